"""交付決定 → 実績報告 → 確定検査 → 支払, on the real database."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from conftest import Clock

from shien.accounts.models import Role
from shien.applications import postaward, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import State
from shien.applications.tests.factories import MONOZUKURI_PLAN, granted, organization, user
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
