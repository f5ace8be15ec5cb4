"""Report reminders: before each due date (30/7/1 days), the overdue notice the day after, each once."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import followup
from shien.applications.models import State
from shien.applications.reminders import send_due_reminders, threshold
from shien.applications.tests.factories import user
from shien.applications.tests.test_followup_programs import BASE, figures, make_app
from shien.core.models import Notification
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
PLAN_BASE = BASE | {"fiscal_year_end": "2024-03-31"}  # as the plan (JSON) holds it


@pytest.fixture(autouse=True)
def locmem(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def people() -> dict[str, Any]:
    owner = user("owner@example.jp")
    app = make_app("monozukuri", owner, plan={"followup": {"baseline": PLAN_BASE}})  # year 1 due 2025-06-30
    advisor = user("advisor@example.jp", Role.ADVISOR)
    advisor_consent_grant(actor=owner, organization=app.organization, advisor=advisor)
    Notification.objects.filter(kind="advisor_consent").delete()  # the advisor was told; not what is tested
    return {"owner": owner, "advisor": advisor, "office": user("office@example.jp", Role.SECRETARIAT),
            "stranger": user("x@example.jp"), "app": app}  # fmt: skip


def run(at: datetime, capture: Any) -> dict[str, int]:
    with capture(execute=True):
        return send_due_reminders(at)


def test_thresholds() -> None:
    assert [threshold(d, [1, 7, 30]) for d in (31, 30, 8, 7, 2, 1, 0, -1)] == [None, 30, 30, 7, 7, 1, 1, None]


def test_reminders_before_the_due_date_are_sent_once_per_threshold(
    people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    app = people["app"]
    assert (
        run(datetime(2025, 5, 30, 9, tzinfo=JST), django_capture_on_commit_callbacks)["reminders"] == 0
    )  # 31 days
    first = run(datetime(2025, 5, 31, 9, tzinfo=JST), django_capture_on_commit_callbacks)
    assert first == {"applications": 1, "reminders": 2, "overdue": 0}  # the owner and the advisor
    assert sorted(n.user.email for n in Notification.objects.all()) == [
        "advisor@example.jp",
        "owner@example.jp",
    ]
    note = Notification.objects.filter(user=people["owner"]).get()
    assert "あと30日" in note.title and "令和7年6月30日(月)（2025-06-30）" in note.body
    assert note.url == f"/applications/{app.pk}/followup/"
    assert len(mail.outbox) == 2 and "事業化状況報告（1年目）" in mail.outbox[0].subject
    # the same day again (a second cron job): nothing new, no second email
    again = run(datetime(2025, 5, 31, 18, tzinfo=JST), django_capture_on_commit_callbacks)
    assert again["reminders"] == 0 and Notification.objects.count() == 2 and len(mail.outbox) == 2
    run(datetime(2025, 6, 1, 9, tzinfo=JST), django_capture_on_commit_callbacks)  # still the 30-day notice
    assert Notification.objects.count() == 2
    assert (
        run(datetime(2025, 6, 25, 9, tzinfo=JST), django_capture_on_commit_callbacks)["reminders"] == 2
    )  # 7 days
    assert (
        run(datetime(2025, 6, 29, 9, tzinfo=JST), django_capture_on_commit_callbacks)["reminders"] == 2
    )  # 1 day
    assert run(datetime(2025, 6, 30, 9, tzinfo=JST), django_capture_on_commit_callbacks)["reminders"] == 0
    assert Notification.objects.count() == 6 and len(mail.outbox) == 6
    assert not Notification.objects.filter(user__in=[people["office"], people["stranger"]]).exists()


def test_overdue_notice_reaches_the_secretariat_once(
    people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    late = run(datetime(2025, 7, 1, 9, tzinfo=JST), django_capture_on_commit_callbacks)
    assert late["overdue"] == 3  # owner, advisor, secretariat
    office = Notification.objects.get(user=people["office"])
    assert office.kind == "report.overdue" and "期限超過" in office.title
    assert run(datetime(2025, 7, 2, 9, tzinfo=JST), django_capture_on_commit_callbacks)["overdue"] == 0
    assert Notification.objects.filter(kind="report.overdue").count() == 3 and len(mail.outbox) == 3
    assert not Notification.objects.filter(user=people["stranger"]).exists()


def test_a_submitted_report_stops_its_reminders(
    people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    followup.followup_submit(actor=people["owner"], application=people["app"], year=1, figures=figures(1))
    assert run(datetime(2025, 7, 1, 9, tzinfo=JST), django_capture_on_commit_callbacks) == {
        "applications": 1, "reminders": 0, "overdue": 0}  # fmt: skip


def test_the_results_report_deadline_of_a_granted_application(
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner = user("owner@example.jp")
    app = make_app("jizokuka", owner, state=State.GRANTED)  # 実績報告 due 2024-11-10
    assert run(datetime(2024, 11, 3, 9, tzinfo=JST), django_capture_on_commit_callbacks)["reminders"] == 1
    note = Notification.objects.get()
    assert "実績報告" in note.title and "あと7日" in note.title and note.url == f"/applications/{app.pk}/"
    assert run(datetime(2024, 11, 11, 9, tzinfo=JST), django_capture_on_commit_callbacks)["overdue"] == 1


def test_the_command_prints_counts_and_is_safe_to_repeat(people: dict[str, Any]) -> None:
    out = io.StringIO()
    call_command("send_reminders", "--at", "2025-07-01T09:00", stdout=out)
    assert "期限超過のお知らせ 3件" in out.getvalue() and "令和7年7月1日" in out.getvalue()
    out = io.StringIO()
    call_command("send_reminders", "--at", "2025-07-01T09:00+09:00", stdout=out)
    assert "期限超過のお知らせ 0件" in out.getvalue()
    assert Notification.objects.count() == 3
