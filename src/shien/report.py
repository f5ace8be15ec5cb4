"""Japanese terminal output for `shien estimate` and `shien programs` (rich tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from shien.rules.text import wareki_date, wareki_datetime, yen


def _console() -> Console:
    console = Console()
    if not console.is_terminal:
        console = Console(width=200, no_color=True)
    return console


def _verdict(result: dict[str, Any]) -> str:
    if not result["eligible"]:
        return "× 対象外"
    if any(c["kind"] == "confirm" for c in result["conditions"]):
        return "△ 要確認"
    return "○ 対象"


def _window(r: dict[str, Any] | None) -> str:
    if not r:
        return "公募回なし"
    if not r["acceptance_end"]:
        return f"{r['name']}（日程未定）"
    end = wareki_datetime(datetime.fromisoformat(r["acceptance_end"]))
    state = "受付中" if r["accepting"] else "受付外"
    return f"{r['name']} {state} 締切 {end}"


def _deadline(r: dict[str, Any] | None, as_of: datetime) -> str:
    if not r or not r["acceptance_end"]:
        return "日程未定"
    start = datetime.fromisoformat(r["acceptance_start"])
    end = datetime.fromisoformat(r["acceptance_end"])
    if r["accepting"]:
        return f"受付中 {r['id']}: 締切 {wareki_datetime(end)}"
    if start > as_of:
        return f"受付前 {r['id']}: {wareki_datetime(start)} 〜 {wareki_datetime(end)}"
    return f"受付終了 {r['id']}: 締切 {wareki_datetime(end)}"


def _due(value: str | None) -> str:
    if not value:
        return ""
    if "T" in value:
        return f"（期限 {wareki_datetime(datetime.fromisoformat(value))}）"
    return f"（期限 {wareki_date(date.fromisoformat(value))}）"


def print_estimates(documents: list[dict[str, Any]]) -> None:
    console = _console()
    for number, doc in enumerate(documents, 1):
        title = f"判定 {number}" + (f"（{doc['id']}）" if doc.get("id") else "")
        console.print(
            f"[bold]{title}[/bold]  判定日時: {wareki_datetime(datetime.fromisoformat(doc['as_of']))}"
        )
        table = Table()
        table.add_column("補助金・枠")
        table.add_column("判定")
        table.add_column("補助額", justify="right")
        table.add_column("上限", justify="right")
        table.add_column("補助率")
        table.add_column("公募回・締切")
        grants = sorted(
            (r for r in doc["results"] if r["kind"] == "grant"),
            key=lambda r: (not r["eligible"], -(r["subsidy_yen"] or 0)),
        )
        for r in grants:
            mark = "※" if r["unverified"] else ""
            table.add_row(
                f"{r['program_name']} {r['frame_name']}",
                _verdict(r),
                yen(r["subsidy_yen"]) + mark if r["eligible"] else "—",
                yen(r["cap_yen"]),
                r["rate"],
                _deadline(r["round"], datetime.fromisoformat(doc["as_of"])),
            )
        console.print(table)
        for r in grants:
            if not r["eligible"]:
                continue
            console.print(f"[bold]■ {r['program_name']} {r['frame_name']}[/bold]  {yen(r['subsidy_yen'])}")
            for line in r["trace"]:
                console.print(f"    計算: {line}")
            for c in r["conditions"]:
                kind = "確認" if c["kind"] == "confirm" else "約束"
                console.print(f"    {kind}: {c['message']}{_due(c['due'])}")
            for o in r["obligations"]:
                console.print(f"    採択後: {o['message']}{_due(o['due'])}")
            for u in r["unverified"]:
                console.print(f"    ※未確認: {u['note'] or u['parameter']}")
            contact = r["contact"]
            console.print(f"    お問合せ先: {contact['name']} {contact.get('phone', '')}".rstrip())
        reasons = [r for r in grants if not r["eligible"]]
        if reasons:
            console.print("[bold]■ 対象外の理由[/bold]")
            for r in reasons:
                failed = next(c["message"] for c in r["criteria"] if c["passed"] is False)
                console.print(f"    {r['program_name']} {r['frame_name']}: {failed}")
        others = [r for r in doc["results"] if r["kind"] == "non_grant"]
        if others:
            names = "、".join(dict.fromkeys(r["program_name"] for r in others))
            console.print(f"■ 補助金以外の支援: {names}（参加の方法は shien programs で確認できます）")
        console.print()


def print_programs(programs: list[dict[str, Any]]) -> None:
    console = _console()
    for program in programs:
        console.print(f"[bold]{program['short_name']}[/bold]（{program['id']}） {program['name']}")
        contact = program["contact"]
        console.print(f"  お問合せ先: {contact['name']} {contact.get('phone', '')}")
        table = Table(show_header=True)
        table.add_column("枠（id）")
        table.add_column("公募回")
        for frame in program["frames"]:
            table.add_row(f"{frame['name']}（{frame['id']}）", _window(frame["round"]))
        console.print(table)
        for r in program["rounds"]:
            start = (
                wareki_datetime(datetime.fromisoformat(r["acceptance_start"]))
                if r["acceptance_start"]
                else "未定"
            )
            end = (
                wareki_datetime(datetime.fromisoformat(r["acceptance_end"]))
                if r["acceptance_end"]
                else "未定"
            )
            mark = " ※未確認" if r["status"] == "unverified" else ""
            console.print(f"  {r['name']}（{r['id']}）: {start} 〜 {end}{mark}")
        console.print()
