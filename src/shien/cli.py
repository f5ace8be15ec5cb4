"""The `shien` command: estimate, programs, screen, serve, manage.

Rules commands (estimate, programs, screen) never import Django, so they start fast. Bad input
prints one Japanese message per problem to standard error and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

EXIT_INPUT = 2


def _fail(message: str) -> NoReturn:
    print(f"エラー: {message}", file=sys.stderr)
    raise SystemExit(EXIT_INPUT)


def parse_as_of(text: str | None) -> datetime | None:
    """ISO 8601 date or datetime; a value without a zone is Japan time."""
    from shien.rules.registry import JST

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            _fail(
                f"--as-of: 日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください: {text!r}"
            )
    return (moment.replace(tzinfo=JST) if moment.tzinfo is None else moment).astimezone(JST)


def read_documents(text: str) -> tuple[list[Any], bool]:
    """A JSON object, a JSON array, or JSON Lines. Returns (documents, single)."""
    stripped = text.strip()
    if not stripped:
        _fail("入力が空です（JSONオブジェクト、配列、または JSON Lines を指定してください）")
    try:
        doc = json.loads(stripped)
    except json.JSONDecodeError as whole:
        lines = [(i, line) for i, line in enumerate(stripped.splitlines(), 1) if line.strip()]
        if len(lines) < 2:
            _fail(f"JSONとして読めません（{whole.lineno}行目 {whole.colno}文字目）")
        docs = []
        for number, line in lines:
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError:
                _fail(f"JSON Lines の{number}行目がJSONとして読めません")
        return docs, False
    if isinstance(doc, dict):
        return [doc], True
    if isinstance(doc, list):
        return doc, False
    _fail("JSONオブジェクト、配列、または JSON Lines を指定してください")


def validate_profiles(docs: list[Any], *, single: bool) -> list[Any]:
    from pydantic import ValidationError

    from shien.rules.schema import Profile, format_errors, japanese_errors

    profiles, problems = [], []
    for index, doc in enumerate(docs):
        prefix = "" if single else f"[{index}]."
        if not isinstance(doc, dict):
            problems.append(f"{prefix.rstrip('.') or '入力'}: JSONオブジェクトを指定してください")
            continue
        try:
            profiles.append(Profile.model_validate(doc))
        except ValidationError as exc:
            problems.append(format_errors(japanese_errors(exc, prefix=prefix)))
    if problems:
        _fail("入力に誤りがあります\n" + "\n".join(problems))
    return profiles


# -- estimate -----------------------------------------------------------------------------------------


def cmd_estimate(args: argparse.Namespace) -> int:
    from shien.rules.engine import estimate, warm_up

    warm_up()

    source = sys.stdin.read() if args.file == "-" else _read_file(args.file)
    docs, single = read_documents(source)
    profiles = validate_profiles(docs, single=single)
    documents = estimate(profiles, as_of=parse_as_of(args.as_of))
    if args.json:
        out: Any = documents[0] if single else documents
        json.dump(out, sys.stdout, ensure_ascii=False, indent=None if args.compact else 2)
        sys.stdout.write("\n")
    else:
        from shien.report import print_estimates

        print_estimates(documents)
    return 0


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        _fail(f"ファイルが見つかりません: {path}")
    except UnicodeDecodeError:
        _fail(f"UTF-8 のテキストとして読めません: {path}")
    except OSError as exc:
        _fail(f"ファイルを読めません: {path}（{exc.strerror}）")


# -- programs -----------------------------------------------------------------------------------------


def cmd_programs(args: argparse.Namespace) -> int:
    from shien.rules.catalog import catalog

    moment = parse_as_of(args.as_of)
    data = catalog(moment)
    if args.json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        from shien.report import print_programs

        print_programs(data)
    return 0


# -- screen -------------------------------------------------------------------------------------------


def cmd_screen(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shien import screening
    from shien.rules.engine import now
    from shien.rules.errors import DomainError

    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        table = screening.read_table(Path(args.input))
        batch = screening.batch_from_table(table, ignore_unknown=args.ignore_unknown_columns)
        moment = parse_as_of(args.as_of) or now()
        with Progress(
            TextColumn("判定中"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=not console.is_terminal,
        ) as progress:
            task = progress.add_task("screen", total=batch.n)
            columns = screening.screen_batch(
                batch, moment, workers=args.workers, progress=lambda k: progress.advance(task, k)
            )
        screening.write_table(screening.output_table(table, columns), Path(args.output))
    except DomainError as exc:
        _fail(exc.message)
    elapsed = time.perf_counter() - started
    console.print(f"{batch.n:,}件を判定しました（{elapsed:.2f}秒）→ {args.output}")
    return 0


# -- web ----------------------------------------------------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shien.web.settings")
    import django

    django.setup()


def cmd_serve(args: argparse.Namespace) -> int:
    if args.demo:  # before anything derived from the registry is built, and before gunicorn forks
        from shien.rules.demo import add_practice_rounds
        from shien.rules.engine import now

        add_practice_rounds(now())
    # links in emails point at this server unless the deployment says otherwise (SITE_URL)
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{args.port}")
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if args.demo:
        call_command("load_demo")
    from shien.web.server import serve

    serve(port=args.port, workers=args.workers, access_log=not args.quiet)
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shien manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shien", description="shien（支援）: 中小企業支援制度のルールと申請"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("estimate", help="事業者の情報から対象となる補助金と金額を判定する")
    p.add_argument("file", help="プロフィール（JSON、配列、JSON Lines）のファイル。- は標準入力")
    p.add_argument("--json", action="store_true", help="機械可読な JSON で出力する")
    p.add_argument("--compact", action="store_true", help="--json を1行で出力する")
    p.add_argument("--as-of", help="判定日時（ISO 8601）。各プロフィールの as_of より優先")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("programs", help="制度・枠・公募回の一覧")
    p.add_argument("--json", action="store_true")
    p.add_argument("--as-of", help="受付状況を判定する日時（ISO 8601）")
    p.set_defaults(func=cmd_programs)

    p = sub.add_parser("screen", help="事業者の母集団（CSV/Parquet）を一括判定する")
    p.add_argument("input", help="入力ファイル（.csv または .parquet）")
    p.add_argument("output", help="出力ファイル（.csv または .parquet）")
    p.add_argument("--as-of", help="判定日時（ISO 8601）")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="並列に判定するスレッド数")
    p.add_argument("--ignore-unknown-columns", action="store_true", help="定義されていない列を無視する")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("serve", help="Webアプリケーションを起動する（127.0.0.1）")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2, help="ワーカープロセス数")
    p.add_argument("--demo", action="store_true", help="デモデータを読み込む")
    p.add_argument("--quiet", action="store_true", help="アクセスログを出さない")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("manage", help="Django の管理コマンド（migrate など）", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
