"""計画変更: after 交付決定 and before 実績報告 the applicant asks to change the plan; the secretariat decides.

A request has its own small state machine (pending → approved | rejected | withdrawn) and at most one
is pending per application (a partial unique constraint backs the check made under the row lock).
The engine recomputes the subsidy for the new plan with the rules in force when the application was
submitted; approval replaces the plan and sets 交付決定額 = min(交付決定額, 変更後の試算), so the
granted amount never rises. Every move is audited in its transaction and notified (keyed by the
request and its status, so a retried request never notifies twice).
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from shien.accounts.models import Role, User
from shien.accounts.selectors import can_act_for
from shien.applications import workflow
from shien.applications.judging import _frame_result
from shien.applications.limits import free_text
from shien.applications.models import Application, ChangeRequest, State
from shien.core.errors import DomainError
from shien.core.notifications import notify
from shien.core.services import audit_record
from shien.rules import clock
from shien.rules.text import yen

Status = ChangeRequest.Status


def estimate_for(application: Application, plan: dict[str, Any]) -> tuple[int, list[dict[str, str]]]:
    """The engine's subsidy for `plan` (as of the submission), and the criteria it fails."""
    changed = copy.deepcopy(application)
    changed.plan = plan
    result = _frame_result(changed, application.submitted_at or clock.now())
    failed = [
        {"field": c["code"], "label": c["label"], "message": c["message"]}
        for c in result["criteria"]
        if c["passed"] is False
    ]
    return (result["subsidy_yen"] if result["eligible"] else 0), failed


def _applicants(application: Application, *, kind: str, title: str, body: str, key: str) -> None:
    from shien.applications.notifications import recipients

    url = reverse("application-detail", args=[application.pk])
    for user in recipients(application):
        notify(user=user, kind=kind, title=title, body=body, url=url, key=key)


def change_request(
    *, actor: User, application: Application, plan: dict[str, Any], reason: str
) -> ChangeRequest:
    """Ask for a change. The same request again (double click) returns the pending one."""
    reason = free_text(reason, label="計画変更の理由")
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related("organization").get(pk=application.pk)
        if not can_act_for(actor, locked.organization):
            raise DomainError("forbidden", "この申請の計画変更を申請する権限がありません")
        pending = locked.change_requests.filter(status=Status.PENDING).first()
        if pending is not None:
            if pending.plan == plan and pending.reason == reason:
                return pending
            raise DomainError(
                "change_pending",
                "審査中の計画変更があります。結果を待つか、その計画変更を取り下げてから申請してください",
            )
        if locked.state != State.GRANTED:
            raise DomainError("invalid_state", "計画変更は、交付決定の後、実績報告の前に申請できます")
        if not reason:
            raise DomainError("reason_required", "計画変更の理由を入力してください")
        amount, failed = estimate_for(locked, plan)
        if failed:
            raise DomainError("not_eligible", "変更後の計画が補助の要件を満たしていません", failed)
        try:
            with transaction.atomic():
                change = ChangeRequest.objects.create(
                    application=locked, plan=plan, reason=reason, requested_by=actor, estimate_yen=amount
                )
        except IntegrityError:  # a concurrent request won the one pending slot
            raise DomainError("change_pending", "審査中の計画変更があります") from None
        audit_record(
            actor=actor,
            action="change.request",
            obj=change,
            reason=reason,
            data={"application": locked.pk, "estimate_yen": amount, "granted_yen": locked.granted_yen},
        )
        url = reverse("change-decide", args=[locked.pk, change.pk])
        for staff in User.objects.filter(roles__role=Role.SECRETARIAT, is_active=True).distinct():
            notify(
                user=staff,
                kind="change.pending",
                title=f"{locked}: 計画変更の申請があります",
                body=f"変更後の補助金額（試算）: {yen(amount)}\n理由: {reason}",
                url=url,
                key=f"change:{change.pk}:pending",
            )
    return change


def withdraw_pending(*, actor: User, application: Application) -> list[int]:
    """Inside a transaction holding the application's lock: withdraw its pending request (the
    application itself is being withdrawn)."""
    ids = []
    for change in ChangeRequest.objects.select_for_update().filter(
        application=application, status=Status.PENDING
    ):
        change.status, change.decided_by, change.decided_at = Status.WITHDRAWN, actor, clock.now()
        change.decision_note = "申請の取下げにより取り下げました"
        change.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(actor=actor, action="change.withdraw", obj=change, data={"application": application.pk})
        ids.append(change.pk)
    return ids


def change_withdraw(*, actor: User, change: ChangeRequest) -> ChangeRequest:
    """The applicant withdraws a pending request; withdrawing it again returns it."""
    with transaction.atomic():
        application = (
            Application.objects.select_for_update()
            .select_related("organization")
            .get(pk=change.application_id)
        )
        if not can_act_for(actor, application.organization):
            raise DomainError("forbidden", "この計画変更を取り下げる権限がありません")
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if locked.status == Status.WITHDRAWN:
            return locked
        if locked.status != Status.PENDING:
            raise DomainError(
                "invalid_state", f"「{locked.get_status_display()}」の計画変更は取り下げられません"
            )
        locked.status, locked.decided_by, locked.decided_at = Status.WITHDRAWN, actor, clock.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(actor=actor, action="change.withdraw", obj=locked, data={"application": application.pk})
        _applicants(
            application,
            kind="change.withdrawn",
            title=f"{application}: 計画変更を取り下げました",
            body=f"{locked.requested_at:%Y-%m-%d} に申請した計画変更を取り下げました",
            key=f"change:{locked.pk}:withdrawn",
        )
    return locked


def change_decide(*, actor: User, change: ChangeRequest, approve: bool, note: str = "") -> ChangeRequest:
    """The secretariat approves (the plan is replaced, 交付決定額 = min(交付決定額, 変更後の試算)) or
    rejects with a note. The same decision again (double click) returns the decided request."""
    if not actor.has_role(Role.SECRETARIAT):
        raise DomainError("forbidden", "計画変更を承認・不承認できるのは事務局です")
    note = free_text(note, label="判断の理由・連絡")
    target = Status.APPROVED if approve else Status.REJECTED
    with transaction.atomic():
        application = (
            Application.objects.select_for_update()
            .select_related("organization")
            .get(pk=change.application_id)
        )
        if workflow.related(actor, application):  # nobody decides on a business they belong to
            raise DomainError(
                "forbidden",
                "関係する事業者（メンバー・代理）の計画変更は承認・不承認できません。ほかの事務局員が行います",
            )
        locked = ChangeRequest.objects.select_for_update().get(pk=change.pk)
        if locked.status == target:
            return locked
        if locked.status != Status.PENDING:
            raise DomainError("invalid_state", f"この計画変更はすでに「{locked.get_status_display()}」です")
        if application.state != State.GRANTED:
            raise DomainError(
                "invalid_state", f"「{State(application.state).label}」の申請の計画変更は判断できません"
            )
        if not approve and not note:
            raise DomainError("reason_required", "不承認の理由を入力してください")
        data: dict[str, Any] = {"application": application.pk}
        if approve:
            before = application.granted_yen
            amounts = [a for a in (application.granted_yen, locked.estimate_yen) if a is not None]
            application.plan = locked.plan
            application.granted_yen = min(amounts) if amounts else None
            application.version += 1
            application.save(update_fields=["plan", "granted_yen", "version", "updated_at"])
            data.update(granted_before=before, granted_after=application.granted_yen)
            audit_record(
                actor=actor,
                action="application.change_plan",
                obj=application,
                reason=note,
                data={"change": locked.pk, **data},
            )
        locked.status, locked.decided_by, locked.decided_at = target, actor, clock.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action=f"change.{'approve' if approve else 'reject'}",
            obj=locked,
            reason=note,
            data=data,
        )
        lines = [f"結果: {locked.get_status_display()}"]
        if approve:
            lines.append(f"交付決定額: {yen(application.granted_yen or 0)}")
        if note:
            lines.append(f"事務局からの連絡: {note}")
        _applicants(
            application,
            kind=f"change.{target}",
            title=f"{application}: "
            + ("計画変更が承認されました" if approve else "計画変更は不承認となりました"),
            body="\n".join(lines),
            key=f"change:{locked.pk}:{target}",
        )
    return locked
