"""事業化状況報告・効果報告 arithmetic: each program's follow-up spec, the report dates, the yearly checks and
the refund (返還), from plain values. The Django side (applications/followup.py) reads the application and
the reports, and stores what this module computes.

Every grant program with a `<program>.followup` parameter has follow-up reports. That dated, sourced
parameter names the report (事業化状況報告, 事業効果報告, 効果報告 …), how many years, when each year is
due (the fiscal year end + N months), where the 実績報告 deadline comes from, the figures required and the
checks; each check names its target and refund rule by parameter. Unverified parameters are carried to
the user as marks and notes on each check.

Growth is compared exactly in integers: a CAGR of 3% over y years is met when
VA_y × 100^y ≥ VA_0 × 103^y; 労働生産性 (付加価値額 ÷ 従業員数) compares VA_y × E_0 × 100^y ≥ VA_0 × E_y × 103^y.
The refund is floored once after exact fraction arithmetic and never exceeds the amount.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from math import floor
from typing import Any, NamedTuple

from shien.rules.registry import Entry, ParamView, registry
from shien.rules.text import yen
from shien.rules.vec import frac, percent

FOLLOWUP_PROGRAMS = frozenset(
    pid for pid in registry().programs if f"{pid}.followup" in registry().parameters
)
BASELINE_YEAR = 0
AMOUNT_FIELDS = ("operating_profit_yen", "personnel_yen", "depreciation_yen", "payroll_total_yen")
LABELS = {
    "fiscal_year_end": "事業年度末",
    "operating_profit_yen": "営業利益",
    "personnel_yen": "人件費",
    "depreciation_yen": "減価償却費",
    "payroll_total_yen": "給与支給総額",
    "min_wage_yen": "事業場内最低賃金（時給）",
    "employees": "従業員数",
    "sales_yen": "売上高",
}
MEASURES = {
    "value_added": "付加価値額",
    "payroll": "給与支給総額",
    "sales": "売上高",
    "productivity": "労働生産性（付加価値額÷従業員数）",
}


@dataclass(frozen=True)
class Figures:
    fiscal_year_end: date
    operating_profit_yen: int
    personnel_yen: int
    depreciation_yen: int
    payroll_total_yen: int
    min_wage_yen: int
    employees: int | None = None
    sales_yen: int | None = None

    @property
    def value_added_yen(self) -> int:
        return self.operating_profit_yen + self.personnel_yen + self.depreciation_yen

    def as_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in LABELS}


@dataclass(frozen=True)
class Spec:
    """One program's follow-up report, as its parameters stand on the application's rules day."""

    program: str
    name: str
    years: int
    due_months: int
    results_due: str | None
    required: tuple[str, ...]
    checks: tuple[dict[str, Any], ...]
    entries: tuple[Entry, ...] = field(repr=False)

    @property
    def unverified(self) -> bool:
        return any(e.unverified for e in self.entries)

    @property
    def notes(self) -> list[str]:
        return notes(self.entries)


def notes(entries: Iterable[Entry]) -> list[str]:
    """The notes of the unverified parameters, each once, in order."""
    out: list[str] = []
    for e in entries:
        if e.unverified and e.note and e.note not in out:
            out.append(e.note)
    return out


def program_spec(program: str, frame: str, day: date) -> Spec | None:
    """The follow-up report of a program and frame under the parameters of `day` (None: it has none)."""
    if program not in FOLLOWUP_PROGRAMS:
        return None
    p = registry().at(day)
    prefix = f"{program}."
    entry = p.entry(prefix + "followup")
    doc = entry.value
    if doc.get("frames") and frame not in doc["frames"]:
        return None
    entries = [entry, p.entry(prefix + doc["years_parameter"])]
    if "due_months" in doc:
        due_months = int(doc["due_months"])
    else:
        ref = doc["due_months_parameter"]
        entries.append(p.entry(prefix + ref["parameter"]))
        due_months = int(p[prefix + ref["parameter"]][ref["key"]])
    return Spec(
        program=program,
        name=doc["name"],
        years=int(p[prefix + doc["years_parameter"]]),
        due_months=due_months,
        results_due=doc.get("results_due"),
        required=tuple(doc.get("required", ())),
        checks=tuple(doc.get("checks", ())),
        entries=tuple(entries),
    )


# -- dates ------------------------------------------------------------------------------------------


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(day: date, months: int) -> date:
    """`day` + N months; a month's last day stays the last day (3/31 + 3 → 6/30, 2/28 + 3 → 5/31)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    if day.day == calendar.monthrange(day.year, day.month)[1]:
        return date(year, month, calendar.monthrange(year, month)[1])
    return _clamped(year, month, day.day)


def fiscal_year_end(paid_on: date, year: int, month: int, day: int) -> date:
    """The end of the `year`-th fiscal year after payment (year 1: the first one ending on or after it)."""
    first = paid_on.year if (paid_on.month, paid_on.day) <= (month, day) else paid_on.year + 1
    return _clamped(first + year - 1, month, day)


# -- checks and refunds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What the checks read of the application: its program and frame, the day whose parameters govern it
    (its submission), the amount refunds are a share of (the confirmed amount, else the granted one), the
    years of its business plan, and its business's prefecture, employees and 賃上げ特例 commitment."""

    program: str
    frame: str
    day: date
    amount: int
    plan_years: int
    prefecture: str = ""
    employees: int = 0
    wage_special: bool = False


class Outcome(NamedTuple):
    """The checks of one year's report (code, passed, message, refund, unverified, notes) and the refund."""

    checks: list[dict[str, Any]]
    refund_yen: int


Result = tuple[dict[str, Any], Fraction, list[Entry]]


def _measure(measure: str, values: dict[str, Any]) -> tuple[int, int] | None:
    """The measure as an exact fraction (numerator, denominator); None when a figure is missing."""
    if measure in ("value_added", "productivity"):
        parts = [values.get(k) for k in ("operating_profit_yen", "personnel_yen", "depreciation_yen")]
        if any(v is None for v in parts):
            return None
        va = sum(int(v) for v in parts if v is not None)
        if measure == "value_added":
            return va, 1
        employees = values.get("employees")
        return (va, int(employees)) if employees else None
    key = {"payroll": "payroll_total_yen", "sales": "sales_yen"}[measure]
    value = values.get(key)
    return None if value is None else (int(value), 1)


def _measure_text(measure: str, value: tuple[int, int]) -> str:
    if measure == "productivity":
        return f"1人当たり {yen(floor(Fraction(*value)))}（付加価値額 {yen(value[0])} ÷ {value[1]}人）"
    return yen(value[0])


def band_cap(bands: list[dict[str, Any]], employees: int, key: str) -> int:
    """The cap of the employee band the business falls in."""
    for band in bands:
        if band["max_employees"] is None or employees <= band["max_employees"]:
            return int(band[key])
    return int(bands[-1][key])


@dataclass
class _Context:
    subject: Subject
    year: int
    figures: Figures
    base: dict[str, Any]
    p: ParamView

    @property
    def amount(self) -> int:
        return self.subject.amount

    @property
    def plan_years(self) -> int:
        return self.subject.plan_years

    def param(self, name: str) -> Any:
        return self.p[f"{self.subject.program}.{name}"]

    def entry(self, name: str) -> Entry:
        return self.p.entry(f"{self.subject.program}.{name}")


def _refund_method(ctx: _Context, spec: dict[str, Any]) -> tuple[str | None, Entry | None]:
    ref = spec.get("refund")
    if not ref:
        return None, None
    return str(ctx.param(ref["parameter"])[ref["rule"]]), ctx.entry(ref["parameter"])


def _growth(ctx: _Context, spec: dict[str, Any]) -> Result | None:
    measure, label = spec["measure"], MEASURES[spec["measure"]]
    used: list[Entry] = []
    if "rate_parameter" in spec:
        rate = frac(ctx.param(spec["rate_parameter"]))
        used.append(ctx.entry(spec["rate_parameter"]))
    else:
        rate = frac(spec["rate"])
    now_value = _measure(measure, ctx.figures.as_fields())
    base_value = _measure(measure, ctx.base)
    if now_value is None or base_value is None or base_value[0] == 0:
        return {"code": spec["code"], "passed": None,
                "message": f"{label}: 基準年度または今回の数値がないため確認できません"}, Fraction(0), used  # fmt: skip
    compound = spec.get("mode") == "compound"
    factor = (1 + rate) ** ctx.year if compound else 1 + rate * ctx.year
    # now_n / now_d ≥ base_n / base_d × factor, cross-multiplied (the denominators are positive)
    passed = (
        now_value[0] * base_value[1] * factor.denominator >= base_value[0] * now_value[1] * factor.numerator
    )
    if compound:
        target = f"年平均{percent(rate)}%以上の目標"
    elif rate:
        target = f"{ctx.year}年で{percent(rate * ctx.year)}%以上の伸びの目標"
    else:
        target = "基準年度以上か"
    check: dict[str, Any] = {"code": spec["code"], "passed": passed,
             "message": f"{label} {_measure_text(measure, now_value)}（基準 {_measure_text(measure, base_value)}、{target}）"}  # fmt: skip
    refund = Fraction(0)
    method, entry = _refund_method(ctx, spec)
    target_growth = factor - 1
    if method == "shortfall_ratio" and not passed and ctx.year == ctx.plan_years and target_growth > 0:
        achieved = Fraction(now_value[0] * base_value[1], now_value[1] * base_value[0]) - 1
        ratio = min(Fraction(1), max(Fraction(0), 1 - achieved / target_growth))
        refund = ctx.amount * ratio
        check["refund"] = f"計画終了時の未達成率 {percent(ratio)}% に応じて返還"
    if entry is not None and "refund" in check:
        used.append(entry)
    return check, refund, used


def _min_wage(ctx: _Context, spec: dict[str, Any]) -> Result | None:
    wage_view = registry().at(ctx.figures.fiscal_year_end)
    key = f"minimum_wage.{ctx.subject.prefecture}"
    premium = int(ctx.param(spec["premium_parameter"]))
    used = [wage_view.entry(key), ctx.entry(spec["premium_parameter"])]
    # that year's 地域別最低賃金 is not yet in the registry: unknown, never last year's carried forward
    if wage_view[key] is None:
        return {"code": spec["code"], "passed": None,
                "message": f"事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（事業年度末の地域別最低賃金が shien に未登録のため、＋{premium}円 以上の目標は確認できません）"}, Fraction(0), used  # fmt: skip
    regional = int(wage_view[key])
    passed = ctx.figures.min_wage_yen >= regional + premium
    check: dict[str, Any] = {"code": spec["code"], "passed": passed,
             "message": f"事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（地域別最低賃金 {regional:,}円＋{premium}円 以上の目標）"}  # fmt: skip
    refund = Fraction(0)
    method, entry = _refund_method(ctx, spec)
    if method == "per_plan_year" and not passed and entry is not None:
        refund = Fraction(ctx.amount, ctx.plan_years)
        check["refund"] = f"未達の年は確定額 {yen(ctx.amount)} ÷ 事業計画年数 {ctx.plan_years}年 を返還"
        used.append(entry)
    return check, refund, used


def _wage_special(ctx: _Context, spec: dict[str, Any]) -> Result | None:
    """省力化: the 賃上げ要件 of the raised cap, against the 基準年度, in the year the formula names."""
    if not ctx.subject.wage_special:
        return None
    formula = ctx.param(spec["formula_parameter"])
    if ctx.year != int(formula["checked_in_year"]):
        return None
    requirement = ctx.param(spec["requirement_parameter"])
    used = [ctx.entry(spec["requirement_parameter"]), ctx.entry(spec["formula_parameter"])]
    base_wage, base_pay = ctx.base.get("min_wage_yen"), ctx.base.get("payroll_total_yen")
    if not base_wage or not base_pay:
        return {"code": spec["code"], "passed": None,
                "message": "賃上げ要件: 基準年度の事業場内最低賃金・給与支給総額がないため確認できません"}, Fraction(0), used  # fmt: skip
    increase_yen = int(requirement["min_wage_increase_yen"])
    increase = frac(requirement["payroll_increase"])
    wage_ok = ctx.figures.min_wage_yen >= int(base_wage) + increase_yen
    pay_ok = ctx.figures.payroll_total_yen * increase.denominator >= int(base_pay) * (increase.denominator + increase.numerator)  # fmt: skip
    check: dict[str, Any] = {"code": spec["code"], "passed": wage_ok and pay_ok,
             "message": (f"賃上げ要件 事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（基準 {int(base_wage):,}円＋{increase_yen}円 以上の目標）、"
                         f"給与支給総額 {yen(ctx.figures.payroll_total_yen)}（基準 {yen(int(base_pay))}、+{percent(increase)}%以上の目標）")}  # fmt: skip
    refund = Fraction(0)
    method, _ = _refund_method(ctx, spec)
    if method == "excess_over_normal_cap" and not check["passed"]:
        employees = ctx.subject.employees
        cap = band_cap(ctx.param("caps"), employees, "cap")
        excess = max(0, ctx.amount - cap)
        refund = Fraction(excess)
        check["refund"] = (f"賃上げ要件の未達: 確定額 {yen(ctx.amount)} のうち通常の補助上限額 {yen(cap)}"
                           f"（従業員{employees}人の区分）を超える {yen(excess)} を返還")  # fmt: skip
        used.append(ctx.entry("caps"))
    return check, refund, used


KINDS: dict[str, Callable[[_Context, dict[str, Any]], Result | None]] = {
    "growth": _growth,
    "min_wage": _min_wage,
    "wage_special": _wage_special,
}


def evaluate(
    spec: Spec, subject: Subject, year: int, figures: Figures, base: dict[str, Any] | None
) -> Outcome:
    """The checks of one year's report (1 ≤ year ≤ spec.years) against the 基準年度 figures `base` (None: not
    registered: only the checks that need no 基準年度 run), and the refund they trigger: the exact sum of
    each check's share, floored once, at most the amount."""
    checks: list[dict[str, Any]] = []
    if base is None:
        checks.append({"code": "baseline", "passed": None, "unverified": False,
                       "message": "基準年度の数値が未登録のため、伸び率は確認できません"})  # fmt: skip
    ctx = _Context(subject, year, figures, base or {}, registry().at(subject.day))
    refund = Fraction(0)
    spec_entry = spec.entries[0]
    for item in spec.checks:
        if item.get("frames") and subject.frame not in item["frames"]:
            continue
        if base is None and item["kind"] != "min_wage":
            continue
        result = KINDS[item["kind"]](ctx, item)
        if result is None:
            continue
        check, part, used = result
        if item.get("informational"):
            check["informational"] = True
            check["message"] += "（参考）"
        if part:
            check["refund_yen"] = floor(part)
        refund += part
        entries = [spec_entry, *used]
        check["unverified"] = any(e.unverified for e in entries)
        found = notes(entries)
        if found:
            check["notes"] = found
        checks.append(check)
    return Outcome(checks, min(floor(refund), subject.amount))
