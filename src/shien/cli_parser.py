"""argparse in Japanese: help (使い方・引数・オプション) and errors, for `shien` and its commands.

argparse writes its own words in English (`usage:`, `options:`, `show this help message and exit`,
`error: the following arguments are required`). `Parser` sets the titles and the -h/--help text in
Japanese, `Formatter` the usage prefix, and `Parser.error` turns argparse's messages into Japanese
before printing them to standard error with exit status 2 (the status of every input error of shien).
The translation is local to these parsers: argparse's module-level gettext stays untouched, so other
users of argparse in the same process (Django's management commands, pytest) are not affected.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

EXIT_INPUT = 2

_TYPE_NAMES = {"int": "整数", "float": "数値", "str": "文字列"}


def _names(text: str) -> str:
    """ "'a', 'b'" or "a, b" → "a, b" (argparse quotes choices with repr up to Python 3.11)."""
    return ", ".join(part.strip().strip("'\"") for part in text.split(","))


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern, re.S), render)
    for pattern, render in (
        (
            r"^the following arguments are required: (.*)$",
            lambda m: f"次の引数を指定してください: {m[1]}",
        ),
        (r"^unrecognized arguments: (.*)$", lambda m: f"不明な引数です: {m[1]}"),
        (
            r"^one of the arguments (.*) is required$",
            lambda m: f"次のいずれかを指定してください: {m[1]}",
        ),
        (
            r"^ambiguous option: (\S+) could match (.*)$",
            lambda m: f"オプション {m[1]} は複数に当てはまります（{m[2]}）。省略せずに指定してください",
        ),
        (
            r"^argument (.+?): invalid choice: (.*?) \(choose from (.*)\)$",
            lambda m: f"{m[1]}: 指定できない値です: {m[2]}（{_names(m[3])} のいずれかを指定してください）",
        ),
        (
            r"^argument (.+?): invalid (\w+) value: (.*)$",
            lambda m: f"{m[1]}: {_TYPE_NAMES.get(m[2], m[2])}を指定してください（{m[3]}）",
        ),
        (r"^argument (.+?): expected one argument$", lambda m: f"{m[1]}: 値を1つ指定してください"),
        (
            r"^argument (.+?): expected at least one argument$",
            lambda m: f"{m[1]}: 値を1つ以上指定してください",
        ),
        (
            r"^argument (.+?): expected at most one argument$",
            lambda m: f"{m[1]}: 値は1つまで指定できます",
        ),
        (r"^argument (.+?): expected (\d+) arguments?$", lambda m: f"{m[1]}: 値を{m[2]}つ指定してください"),
        (
            r"^argument (.+?): not allowed with argument (.*)$",
            lambda m: f"{m[1]} と {m[2]} は同時に指定できません",
        ),
        (
            r"^argument (.+?): ignored explicit argument (.*)$",
            lambda m: f"{m[1]}: 値は指定できません（{m[2]}）",
        ),
        (r"^argument (.+?): (.*)$", lambda m: f"{m[1]}: {m[2]}"),  # a type's own (Japanese) message
    )
)


def translate(message: str) -> str:
    """argparse's English error message in Japanese (unknown messages are kept as they are)."""
    for pattern, render in _RULES:
        match = pattern.match(message)
        if match:
            return render(match)
    return message


def width(text: str) -> int:
    """Columns `text` takes in a terminal: full-width (East Asian wide) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most `columns` display columns: Japanese breaks between any two characters,
    other text between words."""
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[\x21-\x7e]+\s*|\s+|.", " ".join(text.split())):
        if line and width(line + token.rstrip()) > columns:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


class Formatter(argparse.HelpFormatter):
    """Usage prefix in Japanese, and columns measured in display width (full-width = 2)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in wrap(text, width - len(indent)))

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.help is not argparse.SUPPRESS:  # argparse measured len(); widen by the wide characters
            header = self._format_action_invocation(action)
            self._action_max_length = max(self._action_max_length, width(header) + self._current_indent)

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):  # only the commands, not a "コマンド" line
            return self._join_parts(
                [self._format_action(sub) for sub in self._iter_indented_subactions(action)]
            )
        help_position = min(self._action_max_length + 2, self._max_help_position)
        help_width = max(self._width - help_position, 11)
        action_width = help_position - self._current_indent - 2
        header = self._format_action_invocation(action)
        indent_first = 0
        if not action.help:
            parts = [f"{' ' * self._current_indent}{header}\n"]
        elif width(header) <= action_width:
            padding = " " * (action_width - width(header) + 2)
            parts = [f"{' ' * self._current_indent}{header}{padding}"]
        else:
            parts = [f"{' ' * self._current_indent}{header}\n"]
            indent_first = help_position
        if action.help and action.help.strip():
            lines = self._split_lines(self._expand_help(action), help_width)
            if lines:
                parts.append(f"{' ' * indent_first}{lines[0]}\n")
                parts.extend(f"{' ' * help_position}{line}\n" for line in lines[1:])
        elif not parts[0].endswith("\n"):
            parts.append("\n")
        for sub in self._iter_indented_subactions(action):
            parts.append(self._format_action(sub))
        return self._join_parts(parts)

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "使い方: " if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that speaks Japanese; subcommand parsers are of the same class."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "引数"
        self._optionals.title = "オプション"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="この説明を表示して終了します"
            )

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"エラー: {translate(message)}", file=sys.stderr)
        print(f"詳しくは `{self.prog} --help` を参照してください。", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], with a Japanese message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"整数を指定してください（'{text}'）") from None
        if value < low or (high is not None and value > high):
            span = f"{low}以上の" if high is None else f"{low}〜{high}の"
            raise argparse.ArgumentTypeError(f"{span}整数を指定してください（'{text}'）")
        return value

    parse.__name__ = "整数"
    return parse
