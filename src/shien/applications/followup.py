"""事業化状況報告: yearly figures, automatic checks against the commitments, and the refund (返還).

Targets and refund rules are dated parameters (ものづくり補助金). Growth is compared exactly in
integers: a CAGR of 3% over y years is met when VA_y × 100^y ≥ VA_0 × 103^y. The refund is floored
once after exact fraction arithmetic, and its explanation says which rule (and whether unverified).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from math import floor
from typing import Any

from django.db import IntegrityError, transaction

from shien.accounts.models import User
from shien.accounts.selectors import can_act_for
from shien.applications.models import Application, FollowUpReport, State
from shien.core.services import audit_record
from shien.rules.errors import DomainError
from shien.rules.registry import JST, registry
from shien.rules.text import yen
from shien.rules.vec import frac, percent

FOLLOWUP_PROGRAMS = {"monozukuri"}


@dataclass(frozen=True)
class Figures:
    fiscal_year_end: date
    operating_profit_yen: int
    personnel_yen: int
    depreciation_yen: int
    payroll_total_yen: int
    min_wage_yen: int

    @property
    def value_added_yen(self) -> int:
        return self.operating_profit_yen + self.personnel_yen + self.depreciation_yen


def _grew(now: int, base: int, rate: Fraction, years: int) -> bool:
    """now ≥ base × (1 + rate)^years, exactly."""
    growth = (1 + rate) ** years
    return now * growth.denominator >= base * growth.numerator


def evaluate(application: Application, year: int, figures: Figures) -> tuple[list[dict[str, Any]], int]:
    """The checks of one year's report and the refund it triggers."""
    followup = application.plan.get("followup", {})  # the base-year figures and the plan's length
    baseline = followup.get("baseline", {})
    plan_years = int(followup.get("plan_years", 5))
    p = registry().at(figures.fiscal_year_end)
    va_rate = frac(p["monozukuri.basic.value_added_cagr"])
    pay_rate = frac(p["monozukuri.basic.payroll_cagr"])
    premium = int(p["monozukuri.basic.min_wage_premium_yen"])
    regional = int(p[f"minimum_wage.{application.organization.prefecture}"])
    formulas = p["monozukuri.refund.formulas"]
    unverified = p.entry("monozukuri.refund.formulas").unverified
    amount = application.confirmed_yen or application.granted_yen or 0
    checks: list[dict[str, Any]] = []
    refund = Fraction(0)

    base_va = (baseline.get("operating_profit_yen", 0) + baseline.get("personnel_yen", 0)
               + baseline.get("depreciation_yen", 0)) if baseline else None  # fmt: skip
    if base_va:
        ok = _grew(figures.value_added_yen, base_va, va_rate, year)
        checks.append({"code": "value_added", "passed": ok,
                       "message": f"付加価値額 {yen(figures.value_added_yen)}（基準 {yen(base_va)}、年平均{percent(va_rate)}%以上の目標）"})  # fmt: skip
    base_pay = baseline.get("payroll_total_yen")
    if base_pay:
        ok = _grew(figures.payroll_total_yen, base_pay, pay_rate, year)
        checks.append({"code": "payroll", "passed": ok,
                       "message": f"給与支給総額 {yen(figures.payroll_total_yen)}（基準 {yen(base_pay)}、年平均{percent(pay_rate)}%以上の目標）"})  # fmt: skip
        if not ok and year == plan_years and formulas["payroll"] == "shortfall_ratio":
            target = (1 + pay_rate) ** year - 1
            achieved = Fraction(figures.payroll_total_yen, base_pay) - 1
            ratio = min(Fraction(1), max(Fraction(0), 1 - achieved / target))
            refund += amount * ratio
            checks[-1]["refund"] = f"計画終了時の未達成率 {percent(ratio)}% に応じて返還"
    wage_ok = figures.min_wage_yen >= regional + premium
    checks.append({"code": "min_wage", "passed": wage_ok,
                   "message": f"事業場内最低賃金 {figures.min_wage_yen:,}円（地域別最低賃金 {regional:,}円＋{premium}円 以上の目標）"})  # fmt: skip
    if not wage_ok and formulas["min_wage"] == "per_plan_year":
        refund += Fraction(amount, plan_years)
        checks[-1]["refund"] = f"未達の年は確定額 {yen(amount)} ÷ 事業計画年数 {plan_years}年 を返還"
    refund_yen = min(floor(refund), amount)
    for check in checks:
        check["unverified"] = unverified and "refund" in check
    return checks, refund_yen


def due_date(fiscal_year_end: date) -> date:
    months = int(registry().at(fiscal_year_end)["monozukuri.refund.formulas"]["report_due_months"])
    year, month = fiscal_year_end.year, fiscal_year_end.month + months
    year, month = (year + (month - 1) // 12, (month - 1) % 12 + 1)
    return date(year, month, min(fiscal_year_end.day, 28))


@transaction.atomic
def followup_submit(*, actor: User, application: Application, year: int, figures: Figures) -> FollowUpReport:
    if application.program not in FOLLOWUP_PROGRAMS:
        raise DomainError("invalid_input", "この補助金の事業化状況報告は対象外です")
    if not can_act_for(actor, application.organization):
        raise DomainError("forbidden", "この申請の報告を提出する権限がありません")
    if application.state not in (State.CONFIRMED, State.PAID):
        raise DomainError("invalid_state", "補助金額の確定後に事業化状況報告を提出します")
    years = int(registry().at(figures.fiscal_year_end)["monozukuri.report_years"])
    if not 1 <= year <= years:
        raise DomainError("invalid_input", f"報告年は1〜{years}年目です")
    checks, refund_yen = evaluate(application, year, figures)
    try:
        with transaction.atomic():
            report = FollowUpReport.objects.create(
                application=application, year=year, checks=checks, refund_yen=refund_yen, submitted_by=actor,
                **{k: getattr(figures, k) for k in ("fiscal_year_end", "operating_profit_yen", "personnel_yen",
                                                    "depreciation_yen", "payroll_total_yen", "min_wage_yen")},
            )  # fmt: skip
    except IntegrityError:
        raise DomainError("duplicate", f"{year}年目の報告はすでに提出されています") from None
    audit_record(actor=actor, action="followup.submit", obj=application,
                 data={"year": year, "refund_yen": refund_yen, "failed": [c["code"] for c in checks if not c["passed"]]})  # fmt: skip
    return report


def overdue(
    at: datetime, fiscal_year_end_month_day: tuple[int, int] = (3, 31)
) -> list[tuple[Application, int]]:
    """Paid applications whose yearly report is past due (fiscal years ending on the given day)."""
    out = []
    day = at.astimezone(JST).date()
    for application in Application.objects.filter(program__in=FOLLOWUP_PROGRAMS, state=State.PAID):
        if application.paid_on is None:
            continue
        paid = application.paid_on
        submitted = set(application.followups.values_list("year", flat=True))
        for year in range(1, int(registry().at(day)["monozukuri.report_years"]) + 1):
            month, dom = fiscal_year_end_month_day
            fy_end = date(paid.year + year - (1 if (paid.month, paid.day) <= (month, dom) else 0), month, dom)
            if due_date(fy_end) < day and year not in submitted:
                out.append((application, year))
    return out
