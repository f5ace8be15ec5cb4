"""Small builders for accounts and applications (no fixtures: each test says what it needs)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from shien.accounts.models import Role, User, UserRole
from shien.accounts.services import organization_create
from shien.applications.files import minimal_pdf
from shien.rules import clock
from shien.rules.registry import JST


def user(email: str, *roles: Role) -> User:
    u = User.objects.create_user(email, "correct horse battery")
    for role in roles:
        UserRole.objects.create(user=u, role=role)
    return u


def organization(owner: User, **overrides: Any) -> Any:
    facts = {"name": "株式会社テスト製作所", "prefecture": "広島県", "industry": "製造業", "employees": 30,
             "capital_yen": 10_000_000} | overrides  # fmt: skip
    return organization_create(actor=owner, **facts)


MONOZUKURI_PLAN = {
    "purposes": ["labor_saving"],
    "expenses": [{"category": "machinery", "amount_yen": 60_000_000}],
    "commitments": {
        "planned_min_hourly_wage_yen": 1050,
        "value_added_cagr_pct": "3.0",
        "payroll_cagr_pct": "1.5",
    },
}


def granted(
    owner: User,
    secretariat: User,
    at: Any,
    *,
    plan: dict[str, Any] | None = None,
    granted_yen: int = 25_000_000,
) -> Any:
    """A ものづくり application taken through submission, review, adoption and the grant decision."""
    from shien.applications import postaward, services, workflow

    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka", plan=plan or MONOZUKURI_PLAN)  # fmt: skip
    app = services.application_submit(actor=owner, application=app, at=at)
    for action in ("start_review", "adopt"):
        app = workflow.transition(actor=secretariat, application=app, action_name=action)
    app = workflow.transition(actor=owner, application=app, action_name="request_grant")
    return postaward.grant_decide(actor=secretariat, application=app, granted_yen=granted_yen)


def pay(secretariat: User, app: Any, paid_on: date) -> Any:
    """The payment recorded on `paid_on`: a 支払日 is never in the future, so the app's clock, where it
    stands before that day, moves on to it (10:00 JST) and stays there (the test's `clock` sets it back)."""
    from shien.applications import postaward

    if clock.today() < paid_on:
        clock.freeze(datetime.combine(paid_on, time(10, 0), tzinfo=JST))
    return postaward.record_payment(actor=secretariat, application=app, paid_on=paid_on)


def paid(owner: User, secretariat: User, at: Any, *, plan: dict[str, Any] | None = None) -> Any:
    """`granted`, then a 60,000,000円 results report accepted in full, confirmed and paid on 2025-01-31."""
    from shien.applications import postaward, services

    app = granted(owner, secretariat, at, plan=plan)
    proof = services.attachment_add(
        actor=owner, application=app, name="領収書.pdf", content=minimal_pdf("領収書")
    )
    app = postaward.results_report(actor=owner, application=app, lines=[
        {"category": "machinery", "description": "一式", "amount_yen": 60_000_000, "evidence_sha256": proof.sha256}])  # fmt: skip
    app, _ = postaward.confirm_amount(
        actor=secretariat, application=app, decisions={app.expense_lines.get().pk: (True, "")}
    )
    return pay(secretariat, app, date(2025, 1, 31))


def body(response: Any) -> str:
    return response.content.decode()
