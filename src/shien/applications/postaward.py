"""After adoption: grant decision (交付決定), results report (実績報告), inspection (確定検査), payment.

The confirmed amount is recomputed by the rules engine from the accepted expense lines, with the
plan as applied, and never exceeds the granted amount.

実績報告期限 (the round's `report_deadline` in the parameters YAML, a date, Japan time): a report after
it is NOT refused here. The applicant is warned on the page, and the report is recorded with
`late: true` in its audit data for the secretariat, who decides whether to accept it at 確定検査
(whether a late report is accepted is a case-by-case decision of the office; refusing it in software
would take that decision away). A report is refused while a 計画変更 is pending: the ledger is
judged against the plan, which the pending decision may still change.

支払日 lies between the day of the 額の確定 (recorded with the 確定検査) and today in Japan time (the
date the payment form offers), both by the app's clock (`rules.clock`): a date outside that range would make every
事業化状況報告 due at once, or never.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from django.db import transaction

from shien.accounts.models import User
from shien.applications import workflow
from shien.applications.judging import _frame_result
from shien.applications.limits import LINE_MAX, free_text
from shien.applications.models import Application, Attachment, ChangeRequest, ExpenseLine, State
from shien.core.errors import DomainError
from shien.core.models import AuditLog
from shien.rules import clock
from shien.rules.registry import JST, registry
from shien.rules.text import wareki_date, yen
from shien.rules.vocab import MAX_YEN


def report_deadline(application: Application) -> date | None:
    """The round's 実績報告期限, where the parameters give one."""
    window = registry().round(application.program, application.round_id)
    return window.report_deadline if window is not None else None


def report_is_late(application: Application, at: datetime | None = None) -> bool:
    deadline = report_deadline(application)
    moment = (at or clock.now()).astimezone(JST)
    return deadline is not None and moment.date() > deadline


def grant_request(*, actor: User, application: Application) -> Application:
    """交付申請 after 採択. Asking again (a double click) returns the application as it is."""
    current = Application.objects.get(pk=application.pk)
    try:
        return workflow.transition(actor=actor, application=current, action_name="request_grant")
    except DomainError as exc:
        if exc.code == "invalid_state":
            again = Application.objects.select_related("organization").get(pk=application.pk)
            if again.state in (State.GRANT_REQUESTED, State.GRANTED) and workflow.may(
                actor, workflow.ACTIONS["request_grant"], again
            ):
                return again
        raise


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
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_YEN:
            raise DomainError("invalid_input", f"{number}行目: 金額は1円以上の整数で入力してください")
        proof = evidence.get(str(line.get("evidence_sha256", "")))
        if proof is None:
            raise DomainError(
                "evidence_missing",
                f"{number}行目: 証憑（見積書・請求書・領収書など）のファイルを添付してください",
            )
        description = free_text(line.get("description", ""), label=f"{number}行目の内容", max_length=LINE_MAX)
        rows.append((line["category"], description, amount, proof))

    def apply(locked: Application) -> dict[str, Any]:
        if ChangeRequest.objects.filter(application=locked, status=ChangeRequest.Status.PENDING).exists():
            raise DomainError(
                "change_pending",
                "計画変更の審査中は実績報告できません。結果を待つか、計画変更を取り下げてください",
            )
        ExpenseLine.objects.filter(application=locked).delete()
        ExpenseLine.objects.bulk_create(
            ExpenseLine(application=locked, category=c, description=d, amount_yen=a, evidence=e)
            for c, d, a, e in rows
        )
        data: dict[str, Any] = {"lines": len(rows), "total_yen": sum(a for _, _, a, _ in rows)}
        if report_is_late(locked):
            data.update(late=True, report_deadline=str(report_deadline(locked)))
        return data

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
        for number, line in enumerate(lines, 1):
            note = free_text(decisions[line.pk][1], label=f"{number}行目の検査のメモ", max_length=LINE_MAX)
            line.accepted, line.inspection_note = decisions[line.pk][0], note
            line.save(update_fields=["accepted", "inspection_note"])
            if line.accepted:
                accepted[line.category] = accepted.get(line.category, 0) + line.amount_yen
        recomputed = copy.deepcopy(locked)
        recomputed.plan = {
            **locked.plan,
            "expenses": [{"category": c, "amount_yen": a} for c, a in accepted.items()],
        }
        moment = locked.submitted_at or clock.now()
        result = _frame_result(recomputed, moment)
        engine_amount = result["subsidy_yen"] if result["eligible"] else 0
        locked.confirmed_yen = min(engine_amount, locked.granted_yen or 0)
        explanation.update(
            accepted_expenses_yen=sum(accepted.values()),
            engine_yen=engine_amount,
            granted_yen=locked.granted_yen,
            confirmed_yen=locked.confirmed_yen,
            trace=result["trace"],
            confirmed_on=clock.today().isoformat(),
        )
        return explanation

    confirmed = workflow.transition(
        actor=actor, application=application, action_name="confirm_amount", apply=apply
    )
    return confirmed, explanation


def confirmed_on(application: Application) -> date | None:
    """The day (JST) of the application's latest 額の確定, from its audit record."""
    row = (
        AuditLog.objects.filter(
            object_type="applications.application",
            object_id=str(application.pk),
            action="application.confirm_amount",
        )
        .order_by("-at", "-id")
        .values_list("at", "data")
        .first()
    )
    if row is None:
        return None
    at, data = row
    recorded = data.get("confirmed_on") if isinstance(data, dict) else None
    try:
        return date.fromisoformat(recorded) if isinstance(recorded, str) else at.astimezone(JST).date()
    except ValueError:
        return at.astimezone(JST).date()


def check_paid_on(application: Application, paid_on: date) -> None:
    """支払日: not before the 額の確定, not after today (JST)."""
    today = clock.today()
    if paid_on > today:
        raise DomainError(
            "invalid_input",
            f"支払日に未来の日付は入力できません。本日 {wareki_date(today)} までの、支払った日を入力してください",
        )
    confirmed = confirmed_on(application)
    if confirmed is not None and paid_on < confirmed:
        raise DomainError(
            "invalid_input",
            f"支払日は額の確定日 {wareki_date(confirmed)} 以降の日付にしてください",
        )


def record_payment(*, actor: User, application: Application, paid_on: date) -> Application:
    def apply(locked: Application) -> dict[str, Any]:
        check_paid_on(locked, paid_on)
        locked.paid_on = paid_on
        return {"paid_yen": locked.confirmed_yen, "paid_on": paid_on.isoformat()}

    return workflow.transition(
        actor=actor, application=application, action_name="record_payment", apply=apply
    )
