"""Atom feed of program news and round changes; iCalendar feeds of deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from icalendar import Alarm, Event

from shien.core.calendars import calendar_response
from shien.programs.selectors import news_list
from shien.rules import clock
from shien.rules.registry import JST, Program, Round, registry
from shien.rules.text import wareki_datetime


def _round_items() -> list[dict[str, Any]]:
    items = []
    for program in registry().programs.values():
        for r in program.rounds:
            if r.acceptance_start is None or r.acceptance_end is None:
                continue
            items.append(
                {
                    "id": f"round:{r.key}",
                    "title": f"{program.short_name} {r.name}（受付 {wareki_datetime(r.acceptance_start)} 〜 締切 {wareki_datetime(r.acceptance_end)}）",
                    "link": reverse("program-detail", args=[program.id]),
                    "date": r.announced_at or r.acceptance_start,
                    "text": f"{program.name}の{r.name}。締切は{wareki_datetime(r.acceptance_end)}です。",
                }
            )
    return items


class NewsFeed(Feed):  # type: ignore[type-arg]
    feed_type = Atom1Feed
    title = "shien お知らせと公募回"
    subtitle = "中小企業支援制度のお知らせと、公募回の受付開始・締切"
    link = "/"

    def items(self) -> list[dict[str, Any]]:
        news = [
            {
                "id": f"news:{n.slug}",
                "title": n.title,
                "link": reverse("program-detail", args=[n.program]) if n.program else "/",
                "date": n.published_at,
                "text": n.body or n.title,
            }
            for n in news_list(limit=50)
        ]
        return sorted(news + _round_items(), key=lambda i: i["date"], reverse=True)

    def item_title(self, item: dict[str, Any]) -> str:
        return str(item["title"])

    def item_description(self, item: dict[str, Any]) -> str:
        return str(item["text"])

    def item_link(self, item: dict[str, Any]) -> str:
        return f"{item['link']}#{item['id']}"

    def item_guid(self, item: dict[str, Any]) -> str:
        return f"tag:shien,2024:{item['id']}"

    def item_pubdate(self, item: dict[str, Any]) -> datetime:
        return item["date"]  # type: ignore[no-any-return]

    def item_updateddate(self, item: dict[str, Any]) -> datetime:
        return item["date"]  # type: ignore[no-any-return]


def _event(uid: str, summary: str, at: datetime, description: str, url: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("dtstart", at.astimezone(JST))
    event.add("dtend", at.astimezone(JST))
    event.add("dtstamp", clock.now())
    event.add("description", description)
    event.add("url", url)
    for days in (7, 1):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{summary}（{days}日前）")
        alarm.add("trigger", timedelta(days=-days))
        event.add_component(alarm)
    return event


def _events(request: HttpRequest, program: Program, rounds: list[Round], frame_name: str = "") -> list[Event]:
    url = request.build_absolute_uri(reverse("program-detail", args=[program.id]))
    label = f"{program.short_name}{' ' + frame_name if frame_name else ''}"
    events = []
    for r in rounds:
        if r.acceptance_end:
            events.append(
                _event(
                    f"{r.key}-deadline@shien",
                    f"【締切】{label} {r.name}",
                    r.acceptance_end,
                    f"{program.name} {r.name} の申請締切（{wareki_datetime(r.acceptance_end)}）。お問合せ先: {program.contact['name']} {program.contact.get('phone', '')}",
                    url,
                )
            )
        if r.acceptance_start:
            events.append(
                _event(
                    f"{r.key}-start@shien",
                    f"【受付開始】{label} {r.name}",
                    r.acceptance_start,
                    f"{program.name} {r.name} の申請受付開始",
                    url,
                )
            )
        if r.form4_deadline:
            events.append(
                _event(
                    f"{r.key}-form4@shien",
                    f"【様式4締切】{label} {r.name}",
                    r.form4_deadline,
                    "商工会・商工会議所による事業支援計画書（様式4）の交付の受付締切（原則）",
                    url,
                )
            )
    return events


def ics_all(request: HttpRequest) -> HttpResponse:
    events = [e for p in registry().programs.values() for e in _events(request, p, list(p.rounds))]
    return calendar_response("shien 支援制度の締切", events)


def ics_program(request: HttpRequest, program_id: str) -> HttpResponse:
    program = registry().programs.get(program_id)
    if program is None:
        raise Http404("制度が見つかりません")
    return calendar_response(f"{program.short_name} の締切", _events(request, program, list(program.rounds)))


def ics_frame(request: HttpRequest, program_id: str, frame_id: str) -> HttpResponse:
    program = registry().programs.get(program_id)
    if program is None or frame_id not in program.frames:
        raise Http404("枠が見つかりません")
    frame = program.frames[frame_id]
    rounds = list(program.rounds_for(frame_id))
    events = _events(request, program, rounds, frame.name)
    for event in events:  # a frame calendar has its own UIDs, so subscribing to several does not merge them
        event["uid"] = str(event["uid"]).replace("@shien", f"-{frame_id}@shien")
    return calendar_response(f"{program.short_name} {frame.name} の締切", events)
