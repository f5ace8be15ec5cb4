"""The whole lifecycle of each grant program, through the services, on SQLite and on PostgreSQL.

Draft → attachment → (持続化: 様式4 by the consented 商工会 advisor) → submission in the round's window →
review (assignment, conflict declaration, rubric scores, ranking) → adoption within the budget →
交付申請 → 交付決定 (省力化: adoption is the grant decision) → 実績報告 with evidence → 確定検査 →
payment. Each step is checked for its state, amounts, audit record and the applicant's inbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conftest import Clock

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import postaward, review, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.core.models import AuditLog, Notification
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
PDF = minimal_pdf("evidence")


@dataclass(frozen=True)
class Case:
    program: str
    frame: str
    at: datetime  # inside the round's window
    round_id: str
    org: dict[str, Any]
    plan: dict[str, Any]
    estimate_yen: int
    spent: list[tuple[str, int]]  # the results report: (category, amount)
    rejected_line: int | None = None  # the inspection rejects this line
    confirmed_yen: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "monozukuri", "shoryokuka", datetime(2024, 3, 20, 10, tzinfo=JST), "18",
        {}, MONOZUKURI_PLAN, 25_000_000,
        spent=[("machinery", 30_000_000), ("machinery", 30_000_000)], rejected_line=1,
        confirmed_yen=15_000_000,  # 30,000,000 accepted × 1/2
    ),
    Case(
        "jizokuka", "tsujo", datetime(2024, 3, 1, 10, tzinfo=JST), "15",
        {"industry": "小売業", "employees": 3},
        {"purposes": ["sales_channel"], "expenses": [{"category": "advertising", "amount_yen": 600_000}],
         "commitments": {"planned_min_hourly_wage_yen": 1020}, "business": {"min_hourly_wage_yen": 980}},
        400_000, spent=[("advertising", 450_000)], confirmed_yen=300_000,  # 450,000 × 2/3
    ),
    Case(
        "it_donyu", "tsujo", datetime(2024, 4, 1, 10, tzinfo=JST), "2",
        {"capital_yen": 100_000_000},
        {"purposes": ["it_tools"],
         "expenses": [{"category": "software", "amount_yen": 1_000_000, "processes": 2}]},
        500_000, spent=[("software", 1_000_000), ("software", 1)], rejected_line=1,
        confirmed_yen=500_000,
    ),
    Case(
        "shoryokuka", "catalog", datetime(2024, 7, 1, 10, tzinfo=JST), "1",
        {"employees": 21, "capital_yen": 100_000_000},
        {"purposes": ["labor_saving"], "business": {"labor_shortage": True},
         "expenses": [{"category": "catalog_product", "amount_yen": 8_000_000},
                      {"category": "installation", "amount_yen": 1_000_001}]},
        4_500_000, spent=[("catalog_product", 8_000_000), ("installation", 1_000_001)],
        confirmed_yen=4_500_000,
    ),
    Case(
        "jigyo_shokei", "keiei_kakushin", datetime(2024, 4, 10, 10, tzinfo=JST), "9",
        {"capital_yen": 50_000_000},
        {"purposes": ["succession"], "succession_types": ["ma"],
         "expenses": [{"category": "machinery", "amount_yen": 10_000_000}]},
        5_000_000, spent=[("machinery", 12_000_000)], confirmed_yen=5_000_000,  # granted caps it
    ),
]  # fmt: skip


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.program for c in CASES])
def test_whole_lifecycle(case: Case, clock: Clock, media: None) -> None:
    clock.set(case.at)
    owner = user("owner@example.jp")
    secretariat = user("office@example.jp", Role.SECRETARIAT)
    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    org = organization(owner, **case.org)

    app = services.application_create(
        actor=owner, organization=org, program=case.program, frame=case.frame, plan=case.plan
    )
    assert (app.state, app.round_id, app.estimate_yen) == (State.DRAFT, case.round_id, case.estimate_yen)
    plan_pdf = services.attachment_add(actor=owner, application=app, name="事業計画書.pdf", content=PDF)

    if case.program == "jizokuka":  # 様式4 first: submission is refused without it
        with pytest.raises(DomainError, match="様式4"):
            services.application_submit(actor=owner, application=app, at=case.at)
        advisor = user("shokokai@example.jp", Role.ADVISOR)
        advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
        services.form4_issue(actor=advisor, application=app, comment="販路開拓の計画を確認", at=case.at)

    app = services.application_submit(actor=owner, application=app, at=case.at + timedelta(hours=1))
    receipt = services.receipt(app)
    assert app.state == State.SUBMITTED and receipt["receipt_number"].startswith(case.program.upper())
    assert [a["sha256"] for a in receipt["attachments"]] == [plan_pdf.sha256]

    # review: assignment, no conflict, full marks on the frame's rubric, ranking, adoption in budget
    app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    items = review.rubric(app)
    assert items, "every grant program has a rubric"
    review.review_score(
        actor=reviewer, assignment_id=assignment.pk, scores={i["code"]: i["max"] for i in items}
    )
    assert list(review.ranking(case.program, case.round_id)) == [app]
    adopted = review.adopt_within_budget(
        actor=secretariat, program=case.program, round_id=case.round_id, budget_yen=case.estimate_yen
    )
    assert [a.pk for a in adopted] == [app.pk]
    app = Application.objects.get(pk=app.pk)

    if case.program == "shoryokuka":  # カタログ型: 採択 = 交付決定
        assert (app.state, app.granted_yen) == (State.GRANTED, case.estimate_yen)
    else:
        assert app.state == State.ADOPTED
        app = workflow.transition(actor=owner, application=app, action_name="request_grant")
        with pytest.raises(DomainError, match="交付決定額"):
            postaward.grant_decide(actor=secretariat, application=app, granted_yen=case.estimate_yen + 1)
        app = postaward.grant_decide(actor=secretariat, application=app, granted_yen=case.estimate_yen)
        assert (app.state, app.granted_yen) == (State.GRANTED, case.estimate_yen)

    # 実績報告: one evidence file per line, then 確定検査 recomputes the amount from accepted lines
    lines = []
    for number, (category, amount) in enumerate(case.spent):
        proof = services.attachment_add(
            actor=owner, application=app, name=f"領収書{number}.pdf", content=PDF + str(number).encode()
        )
        lines.append({"category": category, "description": f"明細{number}", "amount_yen": amount,
                      "evidence_sha256": proof.sha256})  # fmt: skip
    app = postaward.results_report(actor=owner, application=app, lines=lines)
    assert app.state == State.RESULTS_REPORTED
    decisions = {
        line.pk: (number != case.rejected_line, "" if number != case.rejected_line else "対象外の支出")
        for number, line in enumerate(app.expense_lines.order_by("pk"))
    }
    app, explanation = postaward.confirm_amount(actor=secretariat, application=app, decisions=decisions)
    assert app.confirmed_yen == case.confirmed_yen <= app.granted_yen
    assert explanation["confirmed_yen"] == case.confirmed_yen and explanation["trace"]
    clock.set(datetime(2025, 1, 31, 10, 0, tzinfo=JST))  # the day of the payment
    app = postaward.record_payment(actor=secretariat, application=app, paid_on=date(2025, 1, 31))
    assert (app.state, app.paid_on) == (State.PAID, date(2025, 1, 31))

    # every move is in the audit log, and the applicant heard of each in the inbox
    moves = list(
        AuditLog.objects.filter(object_type="applications.application", object_id=str(app.pk))
        .filter(action__in=[f"application.{a}" for a in workflow.ACTIONS])
        .order_by("at", "id")
        .values_list("data__to", flat=True)
    )
    expected = ["submitted", "under_review", "adopted", "grant_requested", "granted",
                "results_reported", "confirmed", "paid"]  # fmt: skip
    if case.program == "shoryokuka":
        expected = ["submitted", "under_review", "granted", "results_reported", "confirmed", "paid"]
    assert moves == expected
    form4 = 1 if case.program == "jizokuka" else 0  # the business also hears that 様式4 was issued
    assert (
        Notification.objects.filter(user=owner, kind__startswith="application.").count()
        == len(expected) + form4
    )
    assert Notification.objects.filter(user=owner, kind="application.form4").count() == form4


def test_a_paid_grant_cannot_be_withdrawn_or_moved_back(clock: Clock, media: None) -> None:
    case = CASES[1]
    clock.set(case.at)
    owner = user("owner@example.jp")
    secretariat = user("office@example.jp", Role.SECRETARIAT)
    app = services.application_create(
        actor=owner, organization=organization(owner, **case.org), program=case.program, frame=case.frame,
        plan=case.plan,
    )  # fmt: skip
    app = workflow.transition(actor=owner, application=app, action_name="withdraw", reason="計画を見直すため")
    assert app.state == State.WITHDRAWN
    for actor, action in ((owner, "submit"), (secretariat, "start_review"), (owner, "withdraw")):
        with pytest.raises(DomainError, match="できません"):
            workflow.transition(actor=actor, application=app, action_name=action, reason="x")
    with pytest.raises(DomainError, match="編集できません"):
        services.application_autosave(actor=owner, application=app, plan=case.plan, version=app.version)
