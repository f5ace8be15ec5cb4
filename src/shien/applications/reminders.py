"""Reminders of report deadlines: before each due date, and once the day after it.

For every granted application, `send_due_reminders(at)` walks the shared `followup.report_schedule`
(the 実績報告 deadline and each year's 事業化状況報告・効果報告). Before a due date it sends the tightest
reminder whose threshold (`reminders.days_before`, e.g. 30/7/1 days) has been reached, so a missed cron
day never sends two at once; after the due date it sends one overdue notice to the organization's
members and consented advisors and to the secretariat. Every message is keyed, so running this twice,
or from two cron jobs at the same time, sends nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from shien.accounts.models import Role, User
from shien.applications.followup import FOLLOWUP_PROGRAMS, SCHEDULE_STATES, report_schedule
from shien.applications.models import Application
from shien.applications.notifications import report_due, report_overdue
from shien.rules.registry import JST, registry


def threshold(days_left: int, days_before: list[int]) -> int | None:
    """The tightest reminder threshold reached (None: too early for any, or already past due)."""
    if days_left < 0:
        return None
    return min((d for d in days_before if days_left <= d), default=None)


def send_due_reminders(at: datetime) -> dict[str, int]:
    """Send what is due at `at`; the counts are of messages newly created (0 on a repeated run)."""
    day = at.astimezone(JST).date()
    days_before = sorted(int(d) for d in registry().at(day)["reminders.days_before"])
    staff = list(User.objects.filter(roles__role=Role.SECRETARIAT, is_active=True).distinct().order_by("pk"))
    counts = {"applications": 0, "reminders": 0, "overdue": 0}
    applications = (
        Application.objects.filter(program__in=FOLLOWUP_PROGRAMS, state__in=SCHEDULE_STATES)
        .select_related("organization")
        .prefetch_related("followups")
        .order_by("pk")
    )
    for application in applications:
        counts["applications"] += 1
        for row in report_schedule(application, at):
            if row["submitted"]:
                continue
            days_left = (row["due"] - day).days
            with transaction.atomic():  # the emails go out when each notice is committed
                if days_left < 0:
                    counts["overdue"] += report_overdue(application, row, staff)
                    continue
                reached = threshold(days_left, days_before)
                if reached is not None:
                    counts["reminders"] += report_due(application, row, days_left, reached)
    return counts
