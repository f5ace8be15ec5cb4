"""After adoption: grant decision (交付決定), results report (実績報告), inspection (確定検査), payment.

The confirmed amount is recomputed by the rules engine from the accepted expense lines, with the
plan as applied, and never exceeds the granted amount.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from django.db import transaction

from shien.accounts.models import User
from shien.applications import workflow
from shien.applications.models import Application, Attachment, ExpenseLine
from shien.applications.services import _frame_result
from shien.rules.engine import now
from shien.rules.errors import DomainError
from shien.rules.registry import registry
from shien.rules.text import yen


def grant_decide(*, actor: User, application: Application, granted_yen: int) -> Application:
    def apply(locked: Application) -> dict[str, Any]:
        if not 0 < granted_yen <= (locked.estimate_yen or 0):
            raise DomainError(
                "invalid_amount",
                f"交付決定額は1円以上、申請時の補助金額（{yen(locked.estimate_yen or 0)}）以下にしてください",
            )
        locked.granted_yen = granted_yen
        return {"granted_yen": granted_yen}

    return workflow.transition(actor=actor, application=application, action_name="decide_grant", apply=apply)


@transaction.atomic
def results_report(*, actor: User, application: Application, lines: list[dict[str, Any]]) -> Application:
    """The ledger replaces any earlier one; every line names an attached evidence file (by SHA-256)."""
    frame = registry().programs[application.program].frames[application.frame]
    if not lines:
        raise DomainError("invalid_input", "経費の明細を1行以上入力してください")
    evidence = {a.sha256: a for a in Attachment.objects.filter(application=application)}
    rows = []
    for number, line in enumerate(lines, 1):
        if line.get("category") not in frame.expenses:
            raise DomainError("invalid_input", f"{number}行目: この枠の対象経費ではありません")
        amount = line.get("amount_yen")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise DomainError("invalid_input", f"{number}行目: 金額は1円以上の整数で入力してください")
        proof = evidence.get(str(line.get("evidence_sha256", "")))
        if proof is None:
            raise DomainError(
                "evidence_missing",
                f"{number}行目: 証憑（見積書・請求書・領収書など）のファイルを添付してください",
            )
        rows.append((line["category"], str(line.get("description", ""))[:200], amount, proof))

    def apply(locked: Application) -> dict[str, Any]:
        ExpenseLine.objects.filter(application=locked).delete()
        ExpenseLine.objects.bulk_create(
            ExpenseLine(application=locked, category=c, description=d, amount_yen=a, evidence=e)
            for c, d, a, e in rows
        )
        return {"lines": len(rows), "total_yen": sum(a for _, _, a, _ in rows)}

    return workflow.transition(
        actor=actor, application=application, action_name="report_results", apply=apply
    )


def confirm_amount(
    *, actor: User, application: Application, decisions: dict[int, tuple[bool, str]]
) -> tuple[Application, dict[str, Any]]:
    """確定検査: accept or reject each line; the amount is recomputed from the accepted lines."""
    explanation: dict[str, Any] = {}

    def apply(locked: Application) -> dict[str, Any]:
        lines = list(locked.expense_lines.all())
        if set(decisions) != {line.pk for line in lines}:
            raise DomainError("invalid_input", "すべての明細について、認めるか認めないかを判断してください")
        accepted: dict[str, int] = {}
        for line in lines:
            line.accepted, line.inspection_note = decisions[line.pk][0], decisions[line.pk][1][:200]
            line.save(update_fields=["accepted", "inspection_note"])
            if line.accepted:
                accepted[line.category] = accepted.get(line.category, 0) + line.amount_yen
        recomputed = copy.deepcopy(locked)
        recomputed.plan = {
            **locked.plan,
            "expenses": [{"category": c, "amount_yen": a} for c, a in accepted.items()],
        }
        moment = locked.submitted_at or now()
        result = _frame_result(recomputed, moment)
        engine_amount = result["subsidy_yen"] if result["eligible"] else 0
        locked.confirmed_yen = min(engine_amount, locked.granted_yen or 0)
        explanation.update(
            accepted_expenses_yen=sum(accepted.values()),
            engine_yen=engine_amount,
            granted_yen=locked.granted_yen,
            confirmed_yen=locked.confirmed_yen,
            trace=result["trace"],
        )
        return explanation

    confirmed = workflow.transition(
        actor=actor, application=application, action_name="confirm_amount", apply=apply
    )
    return confirmed, explanation


def record_payment(*, actor: User, application: Application, paid_on: date) -> Application:
    def apply(locked: Application) -> dict[str, Any]:
        locked.paid_on = paid_on
        return {"paid_yen": locked.confirmed_yen, "paid_on": paid_on.isoformat()}

    return workflow.transition(
        actor=actor, application=application, action_name="record_payment", apply=apply
    )
