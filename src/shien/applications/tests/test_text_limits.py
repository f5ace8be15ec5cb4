"""Free text (reasons, notes, comments, declarations) has a limit: a Japanese error names the field and
the count, nothing is stored or mailed, and the database refuses what gets past the services."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client

from shien.accounts.models import Role
from shien.accounts.services import checked_facts
from shien.applications import changes, review, services, workflow
from shien.applications.limits import TEXT_MAX
from shien.applications.models import ChangeRequest, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, user
from shien.applications.tests.test_applicant_builders import at_state, people
from shien.core.models import AuditLog
from shien.rules.errors import DomainError

pytestmark = pytest.mark.django_db

HUGE = "あ" * 1_000_000
JUST = "い" * TEXT_MAX


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_a_return_or_rejection_reason_over_the_limit_is_refused_and_nothing_is_sent(client: Client) -> None:
    owner, office = people()
    app = at_state(State.UNDER_REVIEW, owner, office)
    audits, sent = AuditLog.objects.count(), len(mail.outbox)
    for action in ("return", "reject"):
        with pytest.raises(DomainError) as caught:
            workflow.transition(actor=office, application=app, action_name=action, reason=HUGE)
        assert caught.value.code == "too_long" and "2,000文字以内" in caught.value.message
        assert "1,000,000文字" in caught.value.message
    client.force_login(office)
    page = client.post(f"/office/applications/{app.pk}/act/return/", {"reason": "う" * (TEXT_MAX + 1)})
    assert (
        page.status_code == 400
        and "「差戻し」の理由は2,000文字以内で入力してください" in page.content.decode()
    )
    app.refresh_from_db()
    assert app.state == State.UNDER_REVIEW
    assert (AuditLog.objects.count(), len(mail.outbox)) == (audits, sent)
    moved = workflow.transition(
        actor=office, application=app, action_name="return", reason=JUST
    )  # at the limit
    assert moved.state == State.RETURNED


def test_withdrawal_changes_conflicts_and_form4_are_limited(client: Client) -> None:
    owner, office = people()
    draft = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    asked = client.post(f"/applications/{draft.pk}/withdraw/", {"reason": HUGE, "step": "confirm"})
    assert asked.status_code == 422 and "取下げの理由は2,000文字以内" in asked.content.decode()
    with pytest.raises(DomainError, match="取下げ」の理由は2,000文字以内"):
        services.application_withdraw(actor=owner, application=draft, reason=HUGE)

    granted = at_state(State.GRANTED, owner, office)
    with pytest.raises(DomainError, match="計画変更の理由は2,000文字以内"):
        changes.change_request(actor=owner, application=granted, plan=MONOZUKURI_PLAN, reason=HUGE)
    change = changes.change_request(
        actor=owner, application=granted, plan=MONOZUKURI_PLAN, reason="機械の変更"
    )
    with pytest.raises(DomainError, match="判断の理由・連絡は2,000文字以内"):
        changes.change_decide(actor=office, change=change, approve=False, note=HUGE)

    reviewer = user("shinsa@example.jp", Role.REVIEWER)
    under_review = at_state(State.UNDER_REVIEW, user("owner2@example.jp"), office)
    assignment = review.review_assign(actor=office, application=under_review, reviewer=reviewer)
    with pytest.raises(DomainError, match="利益相反の内容は2,000文字以内"):
        review.review_declare_conflict(
            actor=reviewer, assignment_id=assignment.pk, conflict=True, reason=HUGE
        )


def test_a_refused_page_shows_what_could_be_accepted_and_a_margin_not_a_megabyte(client: Client) -> None:
    """A 1,000,000-character reason came back whole (a 3 MB page). The page shows the limit and 200
    characters more, and says that the rest is not shown; the count is of everything typed."""
    cut = "（いまは1,000,000文字。2,200文字を超える部分は表示していません）"

    def shown(response: Any, status: int, letter: str = "あ", limit: int = TEXT_MAX + 200) -> str:
        page = response.content.decode()
        assert response.status_code == status and len(page.encode()) < 200_000
        assert letter * limit in page and letter * (limit + 1) not in page
        return page

    owner, office = people()
    app = at_state(State.UNDER_REVIEW, owner, office)
    client.force_login(office)
    returned = client.post(f"/office/applications/{app.pk}/act/return/", {"form": "return", "reason": HUGE})
    assert "「差戻し」の理由は2,000文字以内で入力してください" + cut in shown(returned, 400)

    granted = at_state(State.GRANTED, owner, office)
    change = changes.change_request(
        actor=owner, application=granted, plan=MONOZUKURI_PLAN, reason="機械の変更"
    )
    decided = client.post(
        f"/applications/{granted.pk}/changes/{change.pk}/", {"decision": "reject", "note": HUGE}
    )
    assert "判断の理由・連絡は2,000文字以内で入力してください" + cut in shown(decided, 400)

    reviewer = user("shinsa@example.jp", Role.REVIEWER)
    under_review = at_state(State.UNDER_REVIEW, user("owner2@example.jp"), office)
    assignment = review.review_assign(actor=office, application=under_review, reviewer=reviewer)
    client.force_login(reviewer)
    declared = client.post(
        f"/office/reviews/{assignment.pk}/conflict/", {"conflict": "yes", "conflict_reason": HUGE}
    )
    assert "利益相反の内容は2,000文字以内で入力してください" + cut in shown(declared, 400)

    client.force_login(owner)
    draft = at_state(State.DRAFT, owner, office)
    asked = client.post(f"/applications/{draft.pk}/withdraw/", {"reason": HUGE, "step": "confirm"})
    assert "取下げの理由は2,000文字以内で入力してください" + cut in shown(asked, 422)

    reported = client.post(
        f"/applications/{granted.pk}/report/",
        {"rows": "1", "category-1": "machinery", "description-1": "機" * 100_000, "amount-1": "100"},
    )
    shown(reported, 422, "機", 200 + 200)


def test_ledger_lines_and_inspection_notes_are_refused_not_cut() -> None:
    from shien.applications import postaward
    from shien.applications.files import minimal_pdf

    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    proof = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=minimal_pdf("r"))
    line = {"category": "machinery", "amount_yen": 60_000_000, "evidence_sha256": proof.sha256}
    with pytest.raises(DomainError, match="1行目の内容は200文字以内"):
        postaward.results_report(actor=owner, application=app, lines=[line | {"description": "機" * 201}])
    app = postaward.results_report(actor=owner, application=app, lines=[line | {"description": "加工機"}])
    with pytest.raises(DomainError, match="1行目の検査のメモは200文字以内"):
        postaward.confirm_amount(
            actor=office, application=app, decisions={app.expense_lines.get().pk: (False, "x" * 201)}
        )


def test_the_database_refuses_text_over_the_limit() -> None:
    owner, office = people()
    granted = at_state(State.GRANTED, owner, office)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeRequest.objects.create(
            application=granted, plan=MONOZUKURI_PLAN, reason="x" * (TEXT_MAX + 1), requested_by=owner
        )
    ChangeRequest.objects.create(application=granted, plan=MONOZUKURI_PLAN, reason=JUST, requested_by=owner)


def test_organization_names_are_limited_on_every_path() -> None:
    facts = {"prefecture": "広島県", "industry": "製造業", "employees": 3, "capital_yen": None,
             "corporate_number": "", "invoice_number": ""}  # fmt: skip
    with pytest.raises(DomainError, match="事業者名は200文字以内"):
        checked_facts(name="名" * 201, **facts)
    assert checked_facts(name="名" * 200, **facts)["name"] == "名" * 200
