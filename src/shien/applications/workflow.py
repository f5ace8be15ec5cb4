"""The one state machine of an application: every move, who may make it, and its audit record.

Each `Action` names the states it leaves from, the state it leads to, the roles that may take it
and whether a reason is required. `transition` checks all of that, locks the row, applies the move,
writes the audit log, and leaves side effects (notifications) to `transaction.on_commit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from shien.accounts.models import Role, User
from shien.accounts.selectors import can_act_for
from shien.applications.limits import free_text
from shien.applications.models import Application, State
from shien.applications.notifications import application_transitioned
from shien.core.errors import DomainError
from shien.core.services import audit_record
from shien.rules.registry import registry

APPLICANT = "applicant"  # a member of the organization, or an advisor with its consent


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    sources: tuple[State, ...]
    target: State
    roles: tuple[str, ...]
    reason_required: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("submit", "申請", (State.DRAFT, State.RETURNED), State.SUBMITTED, (APPLICANT,)),
        Action("start_review", "審査開始", (State.SUBMITTED,), State.UNDER_REVIEW, (Role.SECRETARIAT,)),
        Action(
            "return",
            "差戻し",
            (State.SUBMITTED, State.UNDER_REVIEW),
            State.RETURNED,
            (Role.SECRETARIAT,),
            True,
        ),
        Action("adopt", "採択", (State.UNDER_REVIEW,), State.ADOPTED, (Role.SECRETARIAT,)),
        Action("reject", "不採択", (State.UNDER_REVIEW,), State.REJECTED, (Role.SECRETARIAT,), True),
        Action("request_grant", "交付申請", (State.ADOPTED,), State.GRANT_REQUESTED, (APPLICANT,)),
        Action("decide_grant", "交付決定", (State.GRANT_REQUESTED,), State.GRANTED, (Role.SECRETARIAT,)),
        Action("report_results", "実績報告", (State.GRANTED,), State.RESULTS_REPORTED, (APPLICANT,)),
        Action("confirm_amount", "額の確定", (State.RESULTS_REPORTED,), State.CONFIRMED, (Role.SECRETARIAT,)),
        Action("record_payment", "支払", (State.CONFIRMED,), State.PAID, (Role.SECRETARIAT,)),
        Action(
            "withdraw",
            "取下げ",
            (
                State.DRAFT,
                State.SUBMITTED,
                State.RETURNED,
                State.ADOPTED,
                State.GRANT_REQUESTED,
                State.GRANTED,
            ),
            State.WITHDRAWN,
            (APPLICANT,),
            True,
        ),
    )
}


def may(user: User, action: Action, application: Application) -> bool:
    if APPLICANT in action.roles and can_act_for(user, application.organization):
        return True
    if not user.has_any_role(action.roles):  # staff roles ("applicant" is no role anyone holds)
        return False
    return not related(user, application)  # nobody decides on their own business


def related(user: User, application: Application) -> bool:
    """A member of the applicant, or its advisor with consent: never its secretariat or reviewer."""
    return can_act_for(user, application.organization)


def transition(
    *,
    actor: User,
    application: Application,
    action_name: str,
    reason: str = "",
    apply: Callable[[Application], dict[str, Any] | None] | None = None,
) -> Application:
    """Move `application` by `action_name`; `apply` may change fields and returns audit data."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise DomainError("unknown_action", f"不明な操作です: {action_name}")
    with transaction.atomic():
        locked = (  # the application's row only: the organization is read, not locked
            Application.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=application.pk)
        )
        if not may(actor, action, locked):
            staff = actor.has_any_role(action.roles)
            if staff and related(actor, locked):
                raise DomainError(
                    "forbidden",
                    f"関係する事業者（メンバー・代理）の申請は「{action.label}」できません。ほかの事務局員が行います",
                )
            raise DomainError("forbidden", f"この申請を「{action.label}」する権限がありません")
        if locked.state not in action.sources:
            raise DomainError(
                "invalid_state", f"「{State(locked.state).label}」の申請は「{action.label}」できません"
            )
        reason = free_text(reason, label=f"「{action.label}」の理由")
        if action.reason_required and not reason:
            raise DomainError("reason_required", f"「{action.label}」の理由を入力してください")
        before = locked.state
        data = (apply(locked) if apply else None) or {}
        locked.state = action.target
        # a program whose 採択 is the 交付決定 (the 省力化 catalog; `adoption_is_grant` in its YAML)
        if action.name == "adopt" and registry().programs[locked.program].adoption_is_grant:
            locked.state = State.GRANTED
            locked.granted_yen = locked.granted_yen or locked.estimate_yen
            data["adoption_is_grant"] = True
        locked.save()
        audit = audit_record(
            actor=actor,
            action=f"application.{action.name}",
            obj=locked,
            reason=reason,
            data={"from": before, "to": locked.state, **data},
        )
        application_transitioned(locked, action.name, audit.pk, reason, data)
    return locked
