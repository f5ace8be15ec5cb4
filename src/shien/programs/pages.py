"""Read models of the public pages: programs with their frames' terms, open windows, the schedule.

Everything is derived from the rules registry at a moment; the result is cached per minute
(windows open and close on the minute) so a busy page does the work once.
"""

from __future__ import annotations

import functools
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from shien.rules import clock
from shien.rules.catalog import program_document
from shien.rules.registry import JST, Round, registry
from shien.rules.terms import frame_terms
from shien.rules.text import wareki_date, wareki_datetime, wareki_month
from shien.rules.vocab import AUDIENCES, PURPOSES


def minute(at: datetime | None = None) -> datetime:
    """The last second of the current minute: pages are built once a minute and never show a window
    as open after its deadline (a deadline of 17:00:00 reads as closed from 17:00:00)."""
    return (at or clock.now()).astimezone(JST).replace(second=59, microsecond=0)


def _window(r: Round, at: datetime) -> dict[str, Any]:
    start, end = r.acceptance_start, r.acceptance_end
    state = (
        "undated"
        if not (start and end)
        else "open"
        if r.accepting(at)
        else "upcoming"
        if start > at
        else "closed"
    )
    days_left = (end.date() - at.date()).days if end and state == "open" else None
    return {
        "id": r.id,
        "key": r.key,
        "name": r.name,
        "frames": list(r.frames),
        "state": state,
        "start": start,
        "end": end,
        "start_text": wareki_datetime(start) if start else "未定",
        "end_text": wareki_datetime(end) if end else "未定",
        "days_left": days_left,
        "unverified": r.status == "unverified",
        "note": r.note,
        "project_end_text": wareki_date(r.project_end) if r.project_end else None,
        "form4_text": wareki_datetime(r.form4_deadline) if r.form4_deadline else None,
        "report_text": wareki_date(r.report_deadline) if r.report_deadline else None,
        "reference": r.reference.title,
    }


@functools.lru_cache(maxsize=64)
def program_view(program_id: str, at: datetime) -> dict[str, Any]:
    """A program page: the catalog document plus each frame's terms and round windows."""
    program = registry().programs[program_id]
    doc = program_document(program, at)
    day = at.date()
    for frame in doc["frames"]:
        frame["terms"] = frame_terms(frame["key"], day)
        frame["windows"] = [_window(r, at) for r in program.rounds_for(frame["id"])]
    doc["windows"] = [_window(r, at) for r in program.rounds]
    doc["open_windows"] = [w for w in doc["windows"] if w["state"] == "open"]
    doc["unverified_parameters"] = [p for p in doc["parameters"] if p["status"] == "unverified"]
    doc["max_cap_yen"] = max((f["terms"]["max_cap_yen"] for f in doc["frames"] if f["terms"]), default=None)
    return doc


def programs_view(at: datetime) -> list[dict[str, Any]]:
    return [program_view(pid, at) for pid in registry().programs]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def filter_programs(
    programs: list[dict[str, Any]],
    *,
    audience: str = "",
    purpose: str = "",
    open_now: bool = False,
    q: str = "",
) -> list[dict[str, Any]]:
    """対象・目的・受付中・キーワード. Every program is national, so a prefecture never excludes one."""
    out = []
    needle = _norm(q.strip())
    for p in programs:
        if audience and audience not in {a["code"] for a in p["audience"]}:
            continue
        if purpose and purpose not in {x["code"] for f in p["frames"] for x in f["purposes"]}:
            continue
        if open_now and not p["open_windows"]:
            continue
        if needle:
            haystack = _norm(
                " ".join(
                    [
                        p["name"],
                        p["short_name"],
                        p["summary"],
                        *(f["name"] + f["summary"] for f in p["frames"]),
                    ]
                )
            )
            if not all(word in haystack for word in needle.split()):
                continue
        out.append(p)
    return out


def highlights(at: datetime, *, soon_days: int = 30) -> dict[str, Any]:
    """What is open now (closing soonest first) and what opens or closes within `soon_days`."""
    open_now, upcoming = [], []
    for p in programs_view(at):
        for w in p["windows"]:
            item = {"program": p, "window": w}
            if w["state"] == "open":
                open_now.append(item)
            elif w["state"] == "upcoming" and w["start"] - at <= timedelta(days=soon_days):
                upcoming.append(item)
    open_now.sort(key=lambda x: x["window"]["end"])
    upcoming.sort(key=lambda x: x["window"]["start"])
    return {"open": open_now, "upcoming": upcoming}


def schedule(at: datetime) -> list[dict[str, Any]]:
    """Every dated window, by month of its deadline (a calendar of rounds)."""
    months: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for p in programs_view(at):
        for w in p["windows"]:
            if w["end"] is None:
                continue
            end: datetime = w["end"]
            months.setdefault((end.year, end.month), []).append({"program": p, "window": w})
    out = []
    for (year, month), items in sorted(months.items()):
        items.sort(key=lambda x: x["window"]["end"])
        out.append({"year": year, "month": month, "label": wareki_month(year, month), "items": items})
    return out


FILTERS = {"audience": AUDIENCES, "purpose": PURPOSES}


def timeline(at: datetime, *, months: int = 18) -> dict[str, Any]:
    """Rounds as bars over months (a calendar of windows), from the first grant window."""
    rows = []
    for p in programs_view(at):
        for w in p["windows"]:
            if w["start"] and w["end"]:
                rows.append({"program": p, "window": w})
    if not rows:
        return {"months": [], "rows": []}
    grants = [r["window"]["start"] for r in rows if r["program"]["kind"] == "grant"]
    first = min(grants or [r["window"]["start"] for r in rows])
    year, month = first.year, first.month
    columns = []
    for _ in range(months):
        columns.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    rows.sort(key=lambda r: (r["window"]["start"], r["program"]["order"] if "order" in r["program"] else 0))
    for r in rows:
        start, end = r["window"]["start"], r["window"]["end"]
        r["cells"] = [(start.year, start.month) <= ym <= (end.year, end.month) for ym in columns]
        r["continues"] = (end.year, end.month) > columns[-1]
    labels = [
        {"label": f"{m}月", "year": f"{y}年" if m == 1 or i == 0 else ""} for i, (y, m) in enumerate(columns)
    ]
    return {"months": labels, "rows": [r for r in rows if any(r["cells"])]}
