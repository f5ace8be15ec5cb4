"""取下げ: from every state the state machine allows (service and UI, with a reason and a confirmation
step), refused from every other state, and a withdrawn application stays withdrawn."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock
from django.test import Client

from shien.accounts.models import Role
from shien.applications import changes, postaward, services, workflow
from shien.applications.models import ChangeRequest, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, user
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people
from shien.core.models import AuditLog
from shien.rules.errors import DomainError

pytestmark = pytest.mark.django_db
ALLOWED = list(workflow.ACTIONS["withdraw"].sources)
REFUSED = [s for s in State if s not in ALLOWED and s != State.WITHDRAWN]


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def test_the_allowed_states_are_the_ones_before_the_results_report() -> None:
    assert set(ALLOWED) == {State.DRAFT, State.SUBMITTED, State.RETURNED, State.ADOPTED,
                            State.GRANT_REQUESTED, State.GRANTED}  # fmt: skip
    assert set(REFUSED) == {State.UNDER_REVIEW, State.REJECTED, State.RESULTS_REPORTED, State.CONFIRMED,
                            State.PAID}  # fmt: skip


@pytest.mark.parametrize("state", ALLOWED)
def test_service_withdraws_from_every_allowed_state(state: State) -> None:
    owner, office = people()
    app = at_state(state, owner, office)
    with pytest.raises(DomainError, match="理由"):
        services.application_withdraw(actor=owner, application=app, reason="  ")
    withdrawn = services.application_withdraw(actor=owner, application=app, reason="資金繰りの都合")
    assert withdrawn.state == State.WITHDRAWN
    again = services.application_withdraw(
        actor=owner, application=app, reason="資金繰りの都合"
    )  # double click
    assert again.state == State.WITHDRAWN
    audit = AuditLog.objects.filter(object_id=str(app.pk), action="application.withdraw")
    assert [(a.reason, a.data["from"]) for a in audit] == [("資金繰りの都合", state)]


@pytest.mark.parametrize("state", ALLOWED)
def test_ui_withdraws_after_a_confirmation_step(client: Client, state: State) -> None:
    owner, office = people()
    app = at_state(state, owner, office)
    client.force_login(owner)
    url = f"/applications/{app.pk}/withdraw/"
    assert "取下げの理由" in client.get(url).content.decode()
    empty = client.post(url, {"step": "confirm", "reason": ""})
    assert empty.status_code == 422 and "取下げの理由を入力してください" in empty.content.decode()
    confirm = client.post(url, {"step": "confirm", "reason": "事業計画を見直すため"})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "本当に取り下げますか" in page and "事業計画を見直すため" in page
    app.refresh_from_db()
    assert app.state == state  # nothing happens before the last step
    back = client.post(url, {"step": "edit", "reason": "事業計画を見直すため"})
    assert "事業計画を見直すため</textarea>" in back.content.decode()  # what was typed is kept
    done = client.post(url, {"step": "withdraw", "reason": "事業計画を見直すため"})
    assert done.status_code == 302 and done.url == f"/applications/{app.pk}/"
    assert client.post(url, {"step": "withdraw", "reason": "事業計画を見直すため"}).status_code == 302
    app.refresh_from_db()
    assert app.state == State.WITHDRAWN
    assert AuditLog.objects.filter(object_id=str(app.pk), action="application.withdraw").count() == 1
    detail = client.get(f"/applications/{app.pk}/").content.decode()
    assert "この申請は取り下げられました" in detail and "事業計画を見直すため" in detail  # in the timeline
    assert "申請を取り下げる" not in detail


@pytest.mark.parametrize("state", REFUSED)
def test_other_states_refuse_withdrawal_in_the_service_and_the_ui(client: Client, state: State) -> None:
    owner, office = people()
    app = at_state(state, owner, office)
    with pytest.raises(DomainError) as refused:
        services.application_withdraw(actor=owner, application=app, reason="やめます")
    assert refused.value.code == "invalid_state"
    client.force_login(owner)
    url = f"/applications/{app.pk}/withdraw/"
    assert client.get(url).status_code == 409
    response = client.post(url, {"step": "withdraw", "reason": "やめます"})
    assert response.status_code == 409 and "取り下げられません" in response.content.decode()
    app.refresh_from_db()
    assert app.state == state
    assert "申請を取り下げる" not in client.get(f"/applications/{app.pk}/").content.decode()


def test_a_withdrawn_application_cannot_be_edited_submitted_attached_or_granted(client: Client) -> None:
    owner, office = people()
    draft = at_state(State.DRAFT, owner, office)
    services.application_withdraw(actor=owner, application=draft, reason="重複して作成したため")
    with pytest.raises(DomainError, match="編集できません"):
        services.application_autosave(actor=owner, application=draft, plan=MONOZUKURI_PLAN, version=1)
    with pytest.raises(DomainError, match="申請」できません"):
        services.application_submit(actor=owner, application=draft)
    with pytest.raises(DomainError, match="添付できません"):
        draft.refresh_from_db()
        services.attachment_add(actor=owner, application=draft, name="a.pdf", content=PDF)
    client.force_login(owner)
    saved = client.post(
        f"/applications/{draft.pk}/autosave/", {"version": "1"}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 409 and "編集できません" in saved.content.decode()  # invalid_state
    assert client.post(f"/applications/{draft.pk}/submit/").status_code == 409

    requested = at_state(State.GRANT_REQUESTED, user("second@example.jp"), office)
    services.application_withdraw(actor=requested.created_by, application=requested, reason="自己資金で実施")
    with pytest.raises(DomainError, match="交付決定」できません"):
        postaward.grant_decide(actor=office, application=requested, granted_yen=10_000_000)
    with pytest.raises(DomainError, match="交付申請」できません"):
        postaward.grant_request(actor=requested.created_by, application=requested)


def test_withdrawing_a_granted_application_withdraws_its_pending_change() -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": 30_000_000}]}
    change = changes.change_request(actor=owner, application=app, plan=plan, reason="設備を小さくする")
    services.application_withdraw(actor=owner, application=app, reason="事業を中止")
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.WITHDRAWN
    with pytest.raises(DomainError, match="すでに「取下げ」"):
        changes.change_decide(actor=office, change=change, approve=True)


def test_only_those_who_act_for_the_business_may_withdraw(client: Client) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    with pytest.raises(DomainError, match="権限"):
        services.application_withdraw(actor=office, application=app, reason="事務局が取り下げる")
    stranger, vendor = user("x@example.jp"), user("vendor@example.jp", Role.VENDOR)
    for who in (stranger, vendor):
        client.force_login(who)
        assert client.get(f"/applications/{app.pk}/withdraw/").status_code == 404
        assert (
            client.post(f"/applications/{app.pk}/withdraw/", {"step": "withdraw", "reason": "x"}).status_code
            == 404
        )
    client.force_login(office)  # sees the application, cannot withdraw it
    assert client.get(f"/applications/{app.pk}/withdraw/").status_code == 403
    assert (
        client.post(f"/applications/{app.pk}/withdraw/", {"step": "withdraw", "reason": "x"}).status_code
        == 403
    )
    app.refresh_from_db()
    assert app.state == State.SUBMITTED
