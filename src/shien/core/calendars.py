"""The one iCalendar (RFC 5545) response builder: the public deadline calendars (programs.feeds) and
each grant's report windows (applications.views_followup) are both served through it."""

from __future__ import annotations

from django.http import HttpResponse
from icalendar import Calendar, Event


def calendar_response(
    name: str,
    events: list[Event],
    *,
    product: str = "deadlines",
    filename: str = "shien.ics",
    timezones: bool = False,
) -> HttpResponse:
    """An iCalendar (RFC 5545) response that calendar apps can subscribe to (refreshed twice a day)."""
    cal = Calendar()
    cal.add("prodid", f"-//shien//{product}//JA")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Tokyo")
    cal.add("refresh-interval;value=duration", "PT12H")
    for event in events:
        cal.add_component(event)
    if timezones:
        cal.add_missing_timezones()
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
