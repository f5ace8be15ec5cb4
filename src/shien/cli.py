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
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

EXIT_INPUT = 2


def _fail(message: str) -> NoReturn:
    print(f"エラー: {message}", file=sys.stderr)
    raise SystemExit(EXIT_INPUT)


def parse_as_of(text: str | None) -> datetime | None:
    """ISO 8601 date or datetime (a value without a zone is Japan time), in the supported years."""
    from shien.rules.errors import DomainError
    from shien.rules.schema import parse_as_of as parse

    if text is None:
        return None
    try:
        return parse(text, field="--as-of")
    except DomainError as exc:
        _fail(f"--as-of: {exc.errors[0]['message']}: {text!r}")


def read_profiles(text: str) -> tuple[list[Any], bool]:
    """A JSON object, a JSON array, or JSON Lines → (profiles, single); else exit 2 with every
    problem, one line each, inputs counted from 1 (「2件目」, JSON Lines 「3行目」)."""
    from shien.rules.errors import DomainError
    from shien.rules.schema import format_errors
    from shien.rules.schema import read_profiles as read

    try:
        return read(text)
    except DomainError as exc:
        _fail("\n".join([exc.message, format_errors(exc.errors)]) if exc.errors else exc.message)


# -- estimate -----------------------------------------------------------------------------------------


def cmd_estimate(args: argparse.Namespace) -> int:
    from shien.rules.engine import estimate, warm_up

    warm_up()

    source = sys.stdin.read() if args.file == "-" else _read_file(args.file)
    profiles, single = read_profiles(source)
    documents = estimate(profiles, as_of=parse_as_of(args.as_of))
    if args.json:
        out: Any = documents[0] if single else documents
        json.dump(out, sys.stdout, ensure_ascii=False, indent=None if args.compact else 2)
        sys.stdout.write("\n")
    else:
        from shien.report import print_estimates

        print_estimates(documents)
    explicit = args.as_of is not None or all(p.as_of is not None for p in profiles)
    for moment in sorted({datetime.fromisoformat(d["as_of"]) for d in documents}):
        _notice_if_no_open_round(moment, explicit=explicit)
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
    from shien.rules import clock
    from shien.rules.errors import DomainError

    console = Console(stderr=True)
    started = time.perf_counter()
    errors_path = Path(args.errors) if args.errors else None
    try:
        screening.check_output(Path(args.output), source=Path(args.input))
        if errors_path is not None and errors_path.suffix.lower() != ".csv":
            _fail(f"--errors: 誤りを書き出すファイルは .csv を指定してください: {errors_path.name}")
        if errors_path is not None:
            screening.check_output(errors_path, source=Path(args.input), what="--errors の誤りのファイル")
            if errors_path.resolve() == Path(args.output).resolve():
                _fail("--errors: 誤りのファイルに出力と同じファイルは指定できません")
        moment = parse_as_of(args.as_of) or clock.now()
        population = screening.load(
            Path(args.input),
            ignore_unknown=args.ignore_unknown_columns,
            keep_going=errors_path is not None,
            encoding=args.encoding,
        )
        table, batch = population.table, population.batch
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
        if errors_path is not None:
            screening.write_errors(population.errors, errors_path)
    except DomainError as exc:
        _fail(exc.message)
    elapsed = time.perf_counter() - started
    console.print(f"{batch.n:,}件を判定しました（{elapsed:.2f}秒）→ {args.output}", highlight=False)
    if population.errors:
        rows = len({e.line for e in population.errors})
        console.print(
            f"誤りのある{rows:,}行（{len(population.errors):,}か所）は判定せず、{errors_path} に書き出しました",
            highlight=False,
        )
    _notice_if_no_open_round(moment, explicit=args.as_of is not None)
    return 0


def _notice_if_no_open_round(moment: datetime, *, explicit: bool) -> None:
    """When no grant frame takes applications at `moment`, say so on standard error (standard output
    stays machine-readable): the amounts are then those of each frame's nearest round's rules."""
    from shien.rules.engine import grant_frames
    from shien.rules.frames.base import rounds_at
    from shien.rules.text import wareki_date

    rounds = rounds_at(moment)
    if any(rounds[key].accepting for key in grant_frames()):
        return
    text = (
        f"お知らせ: {wareki_date(moment.date())}に受付中の公募回はありません。"
        "補助額は各枠の直近（または次）の公募回の規則による参考の額です。"
    )
    if not explicit:
        text += "判定日は --as-of で指定できます（例: --as-of 2024-03-20）。"
    print(text, file=sys.stderr)


# -- web ----------------------------------------------------------------------------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shien.web.settings")
    import django

    django.setup()


def cmd_serve(args: argparse.Namespace) -> int:
    if args.demo:  # before anything derived from the registry is built, and before gunicorn forks
        from shien.rules import clock
        from shien.rules.demo import add_practice_rounds

        add_practice_rounds(clock.now())
    # links in emails point at this server unless the deployment says otherwise (SITE_URL)
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{args.port}")
    from shien.web.server import serve

    # migrate and the demo data run in a child process: this one (the gunicorn master) never opens
    # the database, so no connection outlives the fork into the workers
    serve(port=args.port, workers=args.workers, access_log=not args.quiet, demo=args.demo)
    return 0


MANAGE_GUIDE = """使い方: shien manage <コマンド> [引数…]

Django の管理コマンドを実行します（コマンドの説明と誤りのメッセージは Django のものです）。
よく使うコマンド:
  migrate              データベースを最新の形にする
  createsuperuser      管理者を作る
  load_demo            デモデータを読み込む
  send_reminders       報告期限などの催促を送る（1日1回。何度実行しても二重には送りません）
  deliver_mail         送れなかったメールを再送する（数分ごと）
  db_worker            バックグラウンドのタスク（メールの送信など）を処理する
  make_round_summaries 公募回ごとのルールの要約 PDF を作る
  help                 すべてのコマンドの一覧（英語）
  help <コマンド>      そのコマンドの引数（英語）
"""


def cmd_manage(args: argparse.Namespace) -> int:
    if not args.rest or args.rest in (["-h"], ["--help"]):
        asked = bool(args.rest)
        print(MANAGE_GUIDE, file=sys.stdout if asked else sys.stderr, end="")
        if not asked:
            print("エラー: コマンドを指定してください（例: shien manage migrate）", file=sys.stderr)
        return 0 if asked else EXIT_INPUT
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["shien manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    from shien.cli_parser import Parser, whole_number

    parser = Parser(
        prog="shien",
        description="shien（支援）: 中小企業支援制度のルールと申請",
        epilog="各コマンドの説明: shien <コマンド> --help",
    )
    sub = parser.add_subparsers(dest="command", required=True, title="コマンド", metavar="コマンド")

    p = sub.add_parser(
        "estimate",
        help="事業者の情報から対象となる補助金と金額を判定する",
        description="事業者の情報（プロフィール）から、対象となる補助金の枠と金額を判定します。",
    )
    p.add_argument(
        "file", metavar="プロフィール", help="プロフィール（JSON、配列、JSON Lines）のファイル。- は標準入力"
    )
    p.add_argument("--json", action="store_true", help="機械可読な JSON で出力する")
    p.add_argument("--compact", action="store_true", help="--json を1行で出力する")
    p.add_argument("--as-of", metavar="日時", help="判定日時（ISO 8601）。各プロフィールの as_of より優先")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser(
        "programs", help="制度・枠・公募回の一覧", description="制度・枠・公募回の一覧を表示します。"
    )
    p.add_argument("--json", action="store_true", help="機械可読な JSON で出力する")
    p.add_argument("--as-of", metavar="日時", help="受付状況を判定する日時（ISO 8601）")
    p.set_defaults(func=cmd_programs)

    p = sub.add_parser(
        "screen",
        help="事業者の母集団（CSV/Parquet）を一括判定する",
        description="事業者の母集団（1行が1事業者の CSV または Parquet）を一括で判定します。"
        "誤りはすべて「N行目 列名: メッセージ」で報告します（CSV は見出しが1行目、Parquet は「N件目」）。",
    )
    p.add_argument("input", metavar="入力ファイル", help="入力ファイル（.csv または .parquet）")
    p.add_argument("output", metavar="出力ファイル", help="出力ファイル（.csv または .parquet）")
    p.add_argument("--as-of", metavar="日時", help="判定日時（ISO 8601）。省略すると現在")
    p.add_argument(
        "--errors",
        metavar="誤り.csv",
        help="誤りのある行を除いて判定し、誤り（行番号・列・メッセージ）をこの CSV に書き出す。"
        "指定しなければ、誤りがあるときは何も書き出さずに終了コード 2 で終わる",
    )
    p.add_argument(
        "--encoding",
        metavar="文字コード",
        default="utf-8",
        help="CSV の文字コード（既定 utf-8。Excel の CSV は cp932）",
    )
    p.add_argument(
        "--workers",
        type=whole_number(1, 256),
        metavar="数",
        default=os.cpu_count() or 1,
        help="並列に判定するスレッド数",
    )
    p.add_argument("--ignore-unknown-columns", action="store_true", help="定義されていない列を無視する")
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser(
        "serve",
        help="Webアプリケーションを起動する（127.0.0.1）",
        description="Webアプリケーションを起動します（127.0.0.1 で待ち受け）。",
    )
    p.add_argument(
        "--port", type=whole_number(1, 65535), metavar="番号", default=8000, help="ポート番号（既定 8000）"
    )
    p.add_argument(
        "--workers", type=whole_number(1, 64), metavar="数", default=2, help="ワーカープロセス数（既定 2）"
    )
    p.add_argument("--demo", action="store_true", help="デモデータを読み込む")
    p.add_argument("--quiet", action="store_true", help="アクセスログを出さない")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "manage",
        help="Django の管理コマンド（migrate など。shien manage だけで一覧）",
        add_help=False,
        usage="shien manage <コマンド> [引数…]",
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    given = sys.argv[1:] if argv is None else argv
    if not given:  # `shien` alone: what it can do
        parser.print_help(sys.stderr)
        return EXIT_INPUT
    if given[0] == "manage":  # everything after it is Django's, options included (--help, --settings)
        args = argparse.Namespace(rest=given[1:], func=cmd_manage)
    else:
        args = parser.parse_args(given)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
