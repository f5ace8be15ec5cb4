"""Applications: drafts, autosave, attachments, submission and the state machine."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from conftest import Clock
from django.db import connection

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, ReceiptCounter, State
from shien.applications.selectors import application_get, applications_for
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
DEADLINE = datetime(2024, 3, 27, 17, 0, tzinfo=JST)  # ものづくり 18次
PDF = minimal_pdf("見積書")


@pytest.fixture
def frozen(clock: Clock) -> None:
    clock.set(datetime(2024, 3, 20, 10, 0, tzinfo=JST))


def draft(owner: object, plan: dict | None = None) -> Application:  # type: ignore[type-arg]
    org = organization(owner)
    return services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=plan or MONOZUKURI_PLAN
    )  # type: ignore[arg-type]


def test_draft_in_the_open_round_with_a_live_estimate(frozen: None) -> None:
    app = draft(user("o@example.jp"))
    assert (app.state, app.round_id, app.estimate_yen) == (State.DRAFT, "18", 25_000_000)


def test_autosave_refuses_a_stale_version(frozen: None) -> None:
    owner = user("o@example.jp")
    app = draft(owner)
    saved = services.application_autosave(
        actor=owner,
        application=app,
        plan={**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": 30_000_000}]},
        version=1,
    )
    assert (saved.version, saved.estimate_yen) == (2, 15_000_000)
    with pytest.raises(DomainError, match="別の画面で更新"):
        services.application_autosave(actor=owner, application=app, plan=MONOZUKURI_PLAN, version=1)


def test_attachments_are_checked_by_content_and_hashed(
    frozen: None, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    owner = user("o@example.jp")
    app = draft(owner)
    first = services.attachment_add(actor=owner, application=app, name="見積書.pdf", content=PDF)
    again = services.attachment_add(actor=owner, application=app, name="見積書(1).pdf", content=PDF)
    assert first.pk == again.pk and first.content_type == "application/pdf" and len(first.sha256) == 64
    assert first.file.read() == PDF
    with pytest.raises(DomainError, match="PDF、PNG"):
        services.attachment_add(
            actor=owner, application=app, name="virus.pdf", content=b"MZ\x90\x00" + b"0" * 100
        )
    with pytest.raises(DomainError, match="10MB"):
        services.attachment_add(
            actor=owner, application=app, name="big.pdf", content=b"%PDF-" + b"0" * (10 * 1024 * 1024)
        )
    with pytest.raises(DomainError, match="権限"):
        services.attachment_add(actor=user("x@example.jp"), application=app, name="a.pdf", content=PDF)


def test_submission_gives_one_receipt_even_when_repeated(
    frozen: None, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    owner = user("o@example.jp")
    app = draft(owner)
    services.attachment_add(actor=owner, application=app, name="計画書.pdf", content=PDF)
    at = DEADLINE - timedelta(minutes=5)
    first = services.application_submit(actor=owner, application=app, at=at)
    second = services.application_submit(actor=owner, application=app, at=at)
    assert first.receipt_number == second.receipt_number == "MONOZUKURI-18-000001"
    assert ReceiptCounter.objects.get().last == 1
    receipt = services.receipt(first)
    assert receipt["submitted_at_text"].startswith("令和6年3月27日(水) 16:55")
    assert receipt["attachments"][0]["sha256"] == first.attachments.get().sha256
    assert AuditLog.objects.filter(action="application.submit").count() == 1


@pytest.mark.parametrize(("offset", "accepted"), [(timedelta(0), True), (timedelta(seconds=1), False)])
def test_deadline_is_server_time_to_the_second(frozen: None, offset: timedelta, accepted: bool) -> None:
    owner = user("o@example.jp")
    app = draft(owner)
    if accepted:
        assert (
            services.application_submit(actor=owner, application=app, at=DEADLINE + offset).state
            == State.SUBMITTED
        )
    else:
        with pytest.raises(DomainError, match="締切を過ぎています"):
            services.application_submit(actor=owner, application=app, at=DEADLINE + offset)
        assert Application.objects.get(pk=app.pk).state == State.DRAFT


def test_ineligible_application_is_refused_with_the_reasons(frozen: None) -> None:
    owner = user("o@example.jp")
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "transport", "amount_yen": 5_000_000}]}
    app = draft(owner, plan)
    with pytest.raises(DomainError) as error:
        services.application_submit(actor=owner, application=app, at=DEADLINE)
    assert error.value.code == "not_eligible" and error.value.errors[0]["field"] == "machinery_required"


@pytest.mark.django_db(transaction=True)
def test_two_tabs_submitting_at_once_make_one_submission(frozen: None) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them anyway)")
    owner = user("o@example.jp")
    app = draft(owner)
    receipts: list[str] = []

    def submit() -> None:
        receipts.append(
            services.application_submit(actor=owner, application=app, at=DEADLINE).receipt_number or ""
        )
        connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(receipts)) == 1 and ReceiptCounter.objects.get().last == 1


def test_state_machine_permissions_reasons_and_audit(frozen: None) -> None:
    owner, secretariat = user("o@example.jp"), user("s@example.jp", Role.SECRETARIAT)
    app = services.application_submit(actor=owner, application=draft(owner), at=DEADLINE)
    with pytest.raises(DomainError, match="権限"):
        workflow.transition(actor=owner, application=app, action_name="start_review")
    app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    with pytest.raises(DomainError, match="理由"):
        workflow.transition(actor=secretariat, application=app, action_name="return")
    app = workflow.transition(
        actor=secretariat, application=app, action_name="return", reason="見積書が不足しています"
    )
    assert app.state == State.RETURNED
    first_received = app.submitted_at
    later = DEADLINE + timedelta(days=10)  # the correction comes after the call's deadline: accepted
    app = services.application_submit(actor=owner, application=app, at=later)  # resubmitted, same receipt
    assert app.receipt_number == "MONOZUKURI-18-000001" and app.state == State.SUBMITTED
    assert app.submitted_at == first_received  # the first 受付日時 stands; the correction is recorded
    assert (
        AuditLog.objects.filter(action="application.submit").latest("pk").data["resubmitted_at"]
        == later.isoformat()
    )
    app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    app = workflow.transition(actor=secretariat, application=app, action_name="adopt")
    assert app.state == State.ADOPTED
    with pytest.raises(DomainError, match="「採択」の申請は「採択」できません"):
        workflow.transition(actor=secretariat, application=app, action_name="adopt")
    log = list(
        AuditLog.objects.filter(object_id=str(app.pk), action__startswith="application.").order_by("id")
    )
    assert [e.action for e in log] == ["application.create", "application.submit", "application.start_review",
                                       "application.return", "application.submit", "application.start_review",
                                       "application.adopt"]  # fmt: skip
    assert log[3].reason == "見積書が不足しています" and log[3].actor == secretariat


def test_catalog_adoption_is_the_grant_decision(clock: Clock) -> None:
    clock.set(datetime(2024, 7, 1, 10, 0, tzinfo=JST))
    owner, secretariat = user("o@example.jp"), user("s@example.jp", Role.SECRETARIAT)
    org = organization(owner, employees=10)
    plan = {"purposes": ["labor_saving"], "expenses": [{"category": "catalog_product", "amount_yen": 3_000_000}],
            "business": {"labor_shortage": True}}  # fmt: skip
    app = services.application_create(
        actor=owner, organization=org, program="shoryokuka", frame="catalog", plan=plan
    )
    app = services.application_submit(
        actor=owner, application=app, at=datetime(2024, 7, 1, 10, 0, tzinfo=JST)
    )
    app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    app = workflow.transition(actor=secretariat, application=app, action_name="adopt")
    assert (app.state, app.granted_yen) == (State.GRANTED, 1_500_000)


def test_who_sees_which_application(frozen: None) -> None:
    owner, stranger = user("o@example.jp"), user("x@example.jp")
    advisor, bureau = user("a@example.jp", Role.ADVISOR), user("b@example.jp", Role.BUREAU)
    reviewer = user("r@example.jp", Role.REVIEWER)
    app = draft(owner)
    assert list(applications_for(owner)) == [app] and list(applications_for(bureau)) == []  # a draft: theirs
    assert not applications_for(stranger).exists() and not applications_for(reviewer).exists()
    assert not applications_for(advisor).exists()
    advisor_consent_grant(actor=owner, organization=app.organization, advisor=advisor)
    assert application_get(advisor, app.pk) == app
    with pytest.raises(DomainError, match="見つかりません"):
        application_get(stranger, app.pk)
    app = services.application_submit(actor=owner, application=app, at=DEADLINE)
    assert list(applications_for(bureau)) == [app]  # submitted: the bureau reads it
