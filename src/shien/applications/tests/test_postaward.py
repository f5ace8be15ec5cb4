"""交付決定 → 実績報告 → 確定検査 → 支払, on the real database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Clock
from django.test import Client

from shien.accounts.models import Role, User
from shien.applications import postaward, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, body, granted, organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)
PDF = minimal_pdf("証憑")  # a real one-page PDF (pypdf reads attachments)


@pytest.fixture(autouse=True)
def setup(settings: Any, tmp_path: Any, clock: Clock) -> None:
    clock.set(AT)
    settings.MEDIA_ROOT = str(tmp_path)


def test_the_whole_post_award_path(clock: Clock) -> None:
    owner, secretariat = user("o@example.jp"), user("s@example.jp", Role.SECRETARIAT)
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    app = services.application_submit(actor=owner, application=app, at=AT)
    for action in ("start_review", "adopt"):
        app = workflow.transition(actor=secretariat, application=app, action_name=action)
    app = workflow.transition(actor=owner, application=app, action_name="request_grant")
    with pytest.raises(DomainError, match="以下にしてください"):
        postaward.grant_decide(actor=secretariat, application=app, granted_yen=30_000_000)
    app = postaward.grant_decide(actor=secretariat, application=app, granted_yen=25_000_000)
    assert (app.state, app.granted_yen) == (State.GRANTED, 25_000_000)

    quote = services.attachment_add(actor=owner, application=app, name="請求書.pdf", content=PDF + b"invoice")
    receipt_ = services.attachment_add(
        actor=owner, application=app, name="領収書.pdf", content=PDF + b"receipt"
    )
    with pytest.raises(DomainError, match="証憑"):
        postaward.results_report(
            actor=owner,
            application=app,
            lines=[
                {
                    "category": "machinery",
                    "description": "組立ロボット",
                    "amount_yen": 50_000_000,
                    "evidence_sha256": "0" * 64,
                }
            ],
        )
    app = postaward.results_report(actor=owner, application=app, lines=[
        {"category": "machinery", "description": "組立ロボット", "amount_yen": 50_000_000, "evidence_sha256": quote.sha256},
        {"category": "machinery", "description": "周辺装置", "amount_yen": 8_000_000, "evidence_sha256": receipt_.sha256},
    ])  # fmt: skip
    assert app.state == State.RESULTS_REPORTED
    lines = {line.description: line.pk for line in app.expense_lines.all()}
    app, explanation = postaward.confirm_amount(actor=secretariat, application=app, decisions={
        lines["組立ロボット"]: (True, ""), lines["周辺装置"]: (False, "交付決定前の発注のため対象外")})  # fmt: skip
    # accepted 50,000,000円: 1,500万円 + (5,000万 − 3,000万) × 1/3 = 21,666,666円 (≤ granted 25,000,000円)
    assert (app.state, app.confirmed_yen) == (State.CONFIRMED, 21_666_666)
    assert explanation["engine_yen"] == 21_666_666 and explanation["trace"]
    clock.set(datetime(2025, 1, 31, 10, 0, tzinfo=JST))  # the day of the payment
    app = postaward.record_payment(actor=secretariat, application=app, paid_on=date(2025, 1, 31))
    assert app.state == State.PAID
    actions = list(
        AuditLog.objects.filter(object_id=str(app.pk), action__startswith="application.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-4:] == ["application.decide_grant", "application.report_results", "application.confirm_amount",
                            "application.record_payment"]  # fmt: skip


def test_confirmed_amount_never_exceeds_the_grant() -> None:
    owner, secretariat = user("o@example.jp"), user("s@example.jp", Role.SECRETARIAT)
    app = granted(owner, secretariat, AT, granted_yen=10_000_000)
    proof = services.attachment_add(actor=owner, application=app, name="請求書.pdf", content=PDF + b"x")
    app = postaward.results_report(
        actor=owner,
        application=app,
        lines=[
            {
                "category": "machinery",
                "description": "一式",
                "amount_yen": 60_000_000,
                "evidence_sha256": proof.sha256,
            }
        ],
    )
    line = app.expense_lines.get()
    app, _ = postaward.confirm_amount(actor=secretariat, application=app, decisions={line.pk: (True, "")})
    assert app.confirmed_yen == 10_000_000
    with pytest.raises(DomainError, match="権限"):
        postaward.record_payment(actor=owner, application=app, paid_on=date(2025, 1, 31))


PAID_AFTER = timedelta(days=70)  # the payment comes weeks after the 額の確定 (2024-06-04)


def confirmed(secretariat: User) -> Application:
    owner = user("o@example.jp")
    app = granted(owner, secretariat, AT)
    proof = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=PDF)
    app = postaward.results_report(actor=owner, application=app, lines=[
        {"category": "machinery", "description": "一式", "amount_yen": 60_000_000, "evidence_sha256": proof.sha256}])  # fmt: skip
    app, _ = postaward.confirm_amount(
        actor=secretariat, application=app, decisions={app.expense_lines.get().pk: (True, "")}
    )
    return app


@pytest.mark.usefixtures("office_day")
def test_a_payment_date_before_the_confirmation_or_after_today_is_refused(
    secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)  # confirmed on 2024-03-26 (the frozen clock)
    assert postaward.confirmed_on(app) == date(2024, 3, 26)
    today = clock.advance(PAID_AFTER).date()
    for day, message in (
        (
            date(1999, 1, 1),
            re.escape("支払日は額の確定日 令和6年3月26日(火)（2024-03-26） 以降の日付にしてください"),
        ),
        (date(2024, 3, 25), "額の確定日"),
        (date(2099, 12, 31), "支払日に未来の日付は入力できません"),
        (today + timedelta(days=1), "未来の日付"),
    ):
        with pytest.raises(DomainError, match=message) as refused:
            postaward.record_payment(actor=secretariat, application=app, paid_on=day)
        assert refused.value.code == "invalid_input"
    app.refresh_from_db()
    assert (app.state, app.paid_on) == (State.CONFIRMED, None)
    assert not AuditLog.objects.filter(action="application.record_payment").exists()
    paid = postaward.record_payment(actor=secretariat, application=app, paid_on=date(2024, 3, 26))
    assert (paid.state, paid.paid_on) == (State.PAID, date(2024, 3, 26))
    assert AuditLog.objects.get(action="application.record_payment").data["paid_on"] == "2024-03-26"


@pytest.mark.usefixtures("office_day")
def test_today_in_japan_is_a_valid_payment_date(secretariat: User, clock: Clock) -> None:
    app = confirmed(secretariat)
    today = clock.set(datetime(2024, 4, 1, 0, 30, tzinfo=JST)).date()  # 3/31 15:30 UTC
    assert postaward.record_payment(actor=secretariat, application=app, paid_on=today).paid_on == today


@pytest.mark.usefixtures("office_day")
def test_a_confirmation_recorded_before_the_date_was_kept_is_dated_by_its_audit_row(
    secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)
    clock.advance(PAID_AFTER)
    row = AuditLog.objects.get(action="application.confirm_amount")
    row.data.pop("confirmed_on")
    row.save()
    AuditLog.objects.filter(pk=row.pk).update(at=datetime(2024, 5, 1, 15, 30, tzinfo=UTC))  # 5/2 00:30 JST
    assert postaward.confirmed_on(app) == date(2024, 5, 2)
    with pytest.raises(DomainError, match="額の確定日"):
        postaward.record_payment(actor=secretariat, application=app, paid_on=date(2024, 5, 1))


@pytest.mark.usefixtures("office_day")
def test_the_payment_form_refuses_a_date_out_of_range_and_keeps_it(
    client: Client, secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)
    today = clock.advance(PAID_AFTER).date().isoformat()
    client.force_login(secretariat)
    url = f"/office/applications/{app.pk}/"
    page = body(client.get(url))
    assert 'min="2024-03-26"' in page and f'max="{today}"' in page and "額の確定日（令和6年3月26日" in page
    for typed, message in (("1999-01-01", "額の確定日"), ("2099-12-31", "未来の日付は入力できません")):
        refused = client.post(url + "payment/", {"form": "payment", "paid_on": typed})
        text = body(refused)
        assert refused.status_code == 422 and message in text
        assert f'value="{typed}"' in text and 'aria-invalid="true"' in text and 'id="paid-error"' in text
    assert Application.objects.get(pk=app.pk).state == State.CONFIRMED
    assert client.post(url + "payment/", {"form": "payment", "paid_on": "2024-04-01"}).status_code == 302
    again = client.post(url + "payment/", {"form": "payment", "paid_on": "2024-04-01"}, follow=True)
    assert "すでに反映されています" in body(again)
    assert AuditLog.objects.filter(action="application.record_payment").count() == 1
