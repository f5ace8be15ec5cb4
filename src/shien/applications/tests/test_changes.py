"""計画変更: requested after 交付決定, one pending at a time, recomputed by the engine, decided by the
secretariat; the granted amount never rises. Services, then pages and their permissions."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.test import Client

from shien.accounts.models import Role
from shien.applications import changes, postaward, services
from shien.applications.models import ChangeRequest, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, user
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people
from shien.core.models import AuditLog, Notification
from shien.rules.errors import DomainError

pytestmark = pytest.mark.django_db
SMALLER = {
    **MONOZUKURI_PLAN,
    "expenses": [{"category": "machinery", "amount_yen": 30_000_000}],
}  # → 15,000,000円
LARGER = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": 90_000_000}]}


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def test_a_request_is_recomputed_and_a_double_click_makes_one(
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    with django_capture_on_commit_callbacks(execute=True):
        first = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
        second = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    assert first.pk == second.pk and ChangeRequest.objects.count() == 1
    assert (first.status, first.estimate_yen) == (ChangeRequest.Status.PENDING, 15_000_000)
    assert AuditLog.objects.filter(action="change.request").count() == 1
    assert Notification.objects.filter(user=office, key=f"change:{first.pk}:pending").count() == 1
    with pytest.raises(DomainError, match="審査中の計画変更があります"):
        changes.change_request(actor=owner, application=app, plan=LARGER, reason="別の変更")
    app.refresh_from_db()
    assert app.plan == MONOZUKURI_PLAN and app.granted_yen == 25_000_000  # nothing changes before approval


def test_requests_need_a_granted_application_a_reason_a_valid_plan_and_the_right_person() -> None:
    owner, office = people()
    adopted = at_state(State.ADOPTED, owner, office)
    with pytest.raises(DomainError, match="交付決定の後"):
        changes.change_request(actor=owner, application=adopted, plan=SMALLER, reason="x")
    app = at_state(State.GRANTED, user("o2@example.jp"), office)
    with pytest.raises(DomainError, match="理由"):
        changes.change_request(actor=app.created_by, application=app, plan=SMALLER, reason=" ")
    with pytest.raises(DomainError, match="権限"):
        changes.change_request(actor=user("x@example.jp"), application=app, plan=SMALLER, reason="x")
    with pytest.raises(DomainError, match="要件を満たしていません") as ineligible:
        changes.change_request(actor=app.created_by, application=app, reason="機械をやめる",
                               plan={**MONOZUKURI_PLAN, "expenses": [{"category": "expert", "amount_yen": 1_000_000}]})  # fmt: skip
    assert ineligible.value.errors
    with pytest.raises(DomainError, match="申請内容に誤り"):
        changes.change_request(actor=app.created_by, application=app, reason="x",
                               plan={"expenses": [{"category": "machinery", "amount_yen": -1}]})  # fmt: skip


def test_approval_replaces_the_plan_and_lowers_the_grant_to_the_new_estimate(
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    change = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    with pytest.raises(DomainError, match="事務局"):
        changes.change_decide(actor=owner, change=change, approve=True)
    with pytest.raises(DomainError, match="事務局"):
        changes.change_decide(actor=user("bureau@example.jp", Role.BUREAU), change=change, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        decided = changes.change_decide(actor=office, change=change, approve=True, note="承認します")
        again = changes.change_decide(actor=office, change=change, approve=True)  # a double click
    assert decided.status == again.status == ChangeRequest.Status.APPROVED
    app.refresh_from_db()
    assert app.plan == SMALLER and app.granted_yen == 15_000_000
    assert AuditLog.objects.filter(action="application.change_plan").get().data["granted_after"] == 15_000_000
    notes = Notification.objects.filter(user=owner, key=f"change:{change.pk}:approved")
    assert notes.count() == 1 and "15,000,000円" in notes.get().body
    assert sum("計画変更が承認されました" in m.subject for m in mail.outbox) == 1
    with pytest.raises(DomainError, match="すでに「承認」"):
        changes.change_decide(actor=office, change=change, approve=False, note="やはり不承認")


def test_the_grant_never_rises() -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office, granted_yen=20_000_000)
    change = changes.change_request(actor=owner, application=app, plan=LARGER, reason="設備を増やす")
    assert change.estimate_yen > 20_000_000
    changes.change_decide(actor=office, change=change, approve=True)
    app.refresh_from_db()
    assert app.plan == LARGER and app.granted_yen == 20_000_000


def test_rejection_needs_a_note_and_keeps_the_plan() -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    change = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    with pytest.raises(DomainError, match="不承認の理由"):
        changes.change_decide(actor=office, change=change, approve=False, note="")
    rejected = changes.change_decide(actor=office, change=change, approve=False, note="根拠資料が不足")
    assert (rejected.status, rejected.decision_note) == (ChangeRequest.Status.REJECTED, "根拠資料が不足")
    app.refresh_from_db()
    assert app.plan == MONOZUKURI_PLAN and app.granted_yen == 25_000_000
    assert Notification.objects.filter(user=owner, key=f"change:{change.pk}:rejected").exists()
    # a new request may follow a decided one
    assert (
        changes.change_request(actor=owner, application=app, plan=SMALLER, reason="資料を添えて再申請").pk
        != change.pk
    )


def test_the_applicant_may_withdraw_a_pending_request_and_ask_again() -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    change = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    with pytest.raises(DomainError, match="権限"):
        changes.change_withdraw(actor=office, change=change)
    withdrawn = changes.change_withdraw(actor=owner, change=change)
    assert changes.change_withdraw(actor=owner, change=change).status == withdrawn.status == "withdrawn"
    assert AuditLog.objects.filter(action="change.withdraw").count() == 1
    with pytest.raises(DomainError, match="取下げ"):
        changes.change_decide(actor=office, change=change, approve=True)
    newer = changes.change_request(actor=owner, application=app, plan=LARGER, reason="別の設備にする")
    changes.change_decide(actor=office, change=newer, approve=False, note="不可")
    with pytest.raises(DomainError, match="取り下げられません"):
        changes.change_withdraw(actor=owner, change=newer)


def test_the_results_report_waits_for_a_pending_change() -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    proof = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=PDF)
    line = {
        "category": "machinery",
        "description": "一式",
        "amount_yen": 30_000_000,
        "evidence_sha256": proof.sha256,
    }
    with pytest.raises(DomainError, match="計画変更の審査中"):
        postaward.results_report(actor=owner, application=app, lines=[line])
    app.refresh_from_db()
    assert app.state == State.GRANTED and not app.expense_lines.exists()
    reported = at_state(State.RESULTS_REPORTED, user("o3@example.jp"), office)
    with pytest.raises(DomainError, match="実績報告の前"):
        changes.change_request(actor=reported.created_by, application=reported, plan=SMALLER, reason="x")


# -- pages --------------------------------------------------------------------------------------------


def _form(plan_amount: str, reason: str = "見積りが下がったため", **extra: str) -> dict[str, str]:
    return {"purposes": "labor_saving", "e_machinery": plan_amount, "planned_wage": "1050", "va_cagr": "3.0",
            "pay_cagr": "1.5", "reason": reason, **extra}  # fmt: skip


def test_the_applicant_previews_requests_and_withdraws_a_change_in_the_browser_language(
    client: Client,
) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    client.force_login(owner)
    detail = client.get(f"/applications/{app.pk}/").content.decode()
    assert "計画変更を申請する" in detail
    url = f"/applications/{app.pk}/changes/new/"
    assert "変更の理由" in client.get(url).content.decode()
    bad = client.post(url, _form("たくさん"))
    assert bad.status_code == 422 and "数字で入力してください" in bad.content.decode()
    assert 'value="たくさん"' in bad.content.decode()  # what was typed is kept
    preview = client.post(url, _form("3,000万", preview="1"))
    page = preview.content.decode()
    assert preview.status_code == 200 and "15,000,000円" in page and "25,000,000円" in page
    assert not ChangeRequest.objects.exists()
    unexplained = client.post(url, _form("3,000万", reason=" "))
    assert (
        unexplained.status_code == 422 and "計画変更の理由を入力してください" in unexplained.content.decode()
    )
    assert not ChangeRequest.objects.exists()
    for _ in range(2):  # a double click
        sent = client.post(url, _form("3,000万"))
        assert sent.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.plan["expenses"] == [{"category": "machinery", "amount_yen": 30_000_000}]
    assert change.plan["commitments"]["planned_min_hourly_wage_yen"] == 1050
    detail = client.get(f"/applications/{app.pk}/").content.decode()
    assert "審査中" in detail and "15,000,000円" in detail and "承認されても交付決定額は増えません" in detail
    assert "審査中の計画変更があります" in client.get(url).content.decode()
    response = client.post(f"/applications/{app.pk}/changes/{change.pk}/withdraw/")
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.WITHDRAWN


def test_the_decision_page_is_the_secretariats_and_read_only_for_the_bureau(client: Client) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    change = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    url = f"/applications/{app.pk}/changes/{change.pk}/"
    reviewer, vendor = user("r@example.jp", Role.REVIEWER), user("v@example.jp", Role.VENDOR)
    for who in (owner, reviewer, vendor, user("x@example.jp")):
        client.force_login(who)
        assert client.get(url).status_code == 404
        assert client.post(url, {"decision": "approve"}).status_code == 404
    client.force_login(user("bureau@example.jp", Role.BUREAU))
    page = client.get(url).content.decode()
    assert "閲覧のみ" in page and "判断を登録する" not in page
    assert client.post(url, {"decision": "approve"}).status_code == 403
    client.force_login(office)
    page = client.get(url).content.decode()
    assert "判断を登録する" in page and "15,000,000円" in page and "見積りが下がった" in page
    assert "判断を待っている計画変更" in client.get("/mypage/").content.decode()
    missing = client.post(url, {"decision": "reject", "note": ""})
    assert missing.status_code == 422 and "不承認の理由" in missing.content.decode()
    assert client.post(url, {"decision": "approve", "note": "承認"}).status_code == 302
    assert client.post(url, {"decision": "approve", "note": "承認"}).status_code == 302  # a double click
    app.refresh_from_db()
    assert app.granted_yen == 15_000_000 and app.plan["expenses"][0]["amount_yen"] == 30_000_000
    assert client.get(f"/applications/{app.pk}/changes/{change.pk + 1}/").status_code == 404
    client.force_login(owner)
    detail = client.get(f"/applications/{app.pk}/").content.decode()
    assert "承認" in detail and "計画変更を承認" in detail  # the timeline


def test_only_granted_applications_of_ones_own_business_take_a_change(client: Client) -> None:
    owner, office = people()
    adopted = at_state(State.ADOPTED, owner, office)
    client.force_login(owner)
    assert client.get(f"/applications/{adopted.pk}/changes/new/").status_code == 409
    granted = at_state(State.GRANTED, user("o2@example.jp"), office)
    assert client.get(f"/applications/{granted.pk}/changes/new/").status_code == 404
    assert client.post(f"/applications/{granted.pk}/changes/new/", _form("3,000万")).status_code == 404
    client.force_login(office)
    assert client.get(f"/applications/{granted.pk}/changes/new/").status_code == 403
    assert not ChangeRequest.objects.exists()
