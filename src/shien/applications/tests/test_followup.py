"""事業化状況報告: checks against the commitments and the refund, from dated parameters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from conftest import Clock

from shien.accounts.models import Role
from shien.applications import followup
from shien.applications.models import Application
from shien.applications.tests.factories import MONOZUKURI_PLAN, user
from shien.applications.tests.factories import paid as paid_application
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)
BASE = {"operating_profit_yen": 20_000_000, "personnel_yen": 70_000_000, "depreciation_yen": 10_000_000,
        "payroll_total_yen": 60_000_000}  # fmt: skip


@pytest.fixture
def paid(settings: Any, tmp_path: Any, clock: Clock) -> tuple[Application, Any]:
    clock.set(AT)
    settings.MEDIA_ROOT = str(tmp_path)
    owner, secretariat = user("o@example.jp"), user("s@example.jp", Role.SECRETARIAT)
    plan = {**MONOZUKURI_PLAN, "followup": {"plan_years": 5, "baseline": BASE}}
    app = paid_application(owner, secretariat, AT, plan=plan)
    return app, owner


def figures(year: int, *, va: int, payroll: int, wage: int) -> followup.Figures:
    return followup.Figures(
        date(2025 + year - 1, 3, 31), va - 80_000_000, 70_000_000, 10_000_000, payroll, wage
    )


def test_a_year_that_meets_every_commitment_refunds_nothing(
    paid: tuple[Application, Any], clock: Clock
) -> None:
    app, owner = paid
    clock.set(datetime(2025, 7, 1, tzinfo=JST))  # the first fiscal year has closed
    # 1 year: value added ≥ 1億 × 1.03, payroll ≥ 6,000万 × 1.015, wage ≥ 広島 1,020 (R6 on 2025-03-31) + 30
    report = followup.followup_submit(actor=owner, application=app, year=1,
                                      figures=figures(1, va=103_000_000, payroll=60_900_000, wage=1050))  # fmt: skip
    assert [c["passed"] for c in report.checks] == [True, True, True] and report.refund_yen == 0
    with pytest.raises(DomainError, match="すでに提出"):
        followup.followup_submit(
            actor=owner, application=app, year=1, figures=figures(1, va=1, payroll=1, wage=1)
        )


def test_missing_the_minimum_wage_refunds_a_plan_year_share(
    paid: tuple[Application, Any], clock: Clock
) -> None:
    app, owner = paid
    clock.set(datetime(2025, 7, 1, tzinfo=JST))  # the first fiscal year has closed
    report = followup.followup_submit(actor=owner, application=app, year=1,
                                      figures=figures(1, va=110_000_000, payroll=62_000_000, wage=1049))  # fmt: skip
    wage = next(c for c in report.checks if c["code"] == "min_wage")
    assert wage["passed"] is False and wage["unverified"] is True
    assert report.refund_yen == app.confirmed_yen // 5  # 25,000,000 ÷ 5 = 5,000,000
    assert AuditLog.objects.filter(action="followup.submit").get().data["refund_yen"] == 5_000_000


def test_the_minimum_wage_of_the_fiscal_year_end_not_last_years(
    paid: tuple[Application, Any], clock: Clock
) -> None:
    """FY ending 2026-03-31: 広島 R7 1,085円 (from 2025-11-01) + 30. FY ending 2027-03-31: R8 is not in
    the registry, so the check is unknown (no refund), not judged by R7 carried forward."""
    app, owner = paid
    clock.set(datetime(2026, 7, 1, tzinfo=JST))  # the second fiscal year has closed
    second = followup.followup_submit(actor=owner, application=app, year=2,
                                      figures=figures(2, va=110_000_000, payroll=62_000_000, wage=1114))  # fmt: skip
    wage = next(c for c in second.checks if c["code"] == "min_wage")
    assert wage["passed"] is False and "1,085円＋30円" in wage["message"]
    checks, refund = followup.evaluate(app, 3, figures(3, va=120_000_000, payroll=64_000_000, wage=1114))
    wage = next(c for c in checks if c["code"] == "min_wage")
    assert wage["passed"] is None and "未登録" in wage["message"] and wage["unverified"] is True
    assert "refund_yen" not in wage and refund == 0


def test_payroll_shortfall_at_the_end_of_the_plan_refunds_by_the_shortfall_ratio(
    paid: tuple[Application, Any], clock: Clock
) -> None:
    app, owner = paid
    with pytest.raises(DomainError, match="翌日から提出できます"):  # year 5 has not closed yet
        followup.followup_submit(actor=owner, application=app, year=5,
                                 figures=figures(5, va=200_000_000, payroll=61_800_000, wage=1100))  # fmt: skip
    clock.set(datetime(2030, 7, 1, tzinfo=JST))
    # 5 years: target payroll growth (1.015^5 − 1) ≈ 7.73%; achieved 3% → about 61.2% of the amount is refunded
    report = followup.followup_submit(actor=owner, application=app, year=5,
                                      figures=figures(5, va=200_000_000, payroll=61_800_000, wage=1100))  # fmt: skip
    payroll = next(c for c in report.checks if c["code"] == "payroll")
    assert payroll["passed"] is False
    from fractions import Fraction
    from math import floor

    target = Fraction(203, 200) ** 5 - 1
    expected = floor(25_000_000 * (1 - Fraction(3, 100) / target))
    assert report.refund_yen == expected


def test_only_the_applicant_reports_and_reports_become_overdue(paid: tuple[Application, Any]) -> None:
    app, owner = paid
    with pytest.raises(DomainError, match="権限"):
        followup.followup_submit(actor=user("x@example.jp"), application=app, year=1,
                                 figures=figures(1, va=1, payroll=1, wage=1))  # fmt: skip
    late = followup.overdue(datetime(2025, 7, 1, tzinfo=JST))
    assert (app, 1) in [(a, y) for a, y in late]
