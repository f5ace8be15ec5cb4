"""事業化状況報告・効果報告: the report windows, yearly figures, automatic checks and the refund (返還).

Every grant program with a `<program>.followup` parameter has follow-up reports. That dated, sourced
parameter names the report (事業化状況報告, 事業効果報告, 効果報告 …), how many years, when each year is
due (the fiscal year end + N months), where the 実績報告 deadline comes from, the figures required and the
checks; each check names its target and refund rule by parameter. Unverified parameters are carried to
the user as marks and notes on the schedule and on each check.

Growth is compared exactly in integers: a CAGR of 3% over y years is met when
VA_y × 100^y ≥ VA_0 × 103^y; 労働生産性 (付加価値額 ÷ 従業員数) compares VA_y × E_0 × 100^y ≥ VA_0 × E_y × 103^y.
The refund is floored once after exact fraction arithmetic and never exceeds the amount paid.

Year 0 is the 基準年度 (the last fiscal year before the project), entered once by the applicant when the
plan does not already carry `plan["followup"]["baseline"]`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from math import floor
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from shien.accounts.models import User
from shien.accounts.selectors import can_act_for
from shien.applications.models import Application, FollowUpReport, State
from shien.applications.selectors import applications_for
from shien.core.errors import DomainError
from shien.core.services import audit_record
from shien.rules import clock
from shien.rules.registry import JST, Entry, ParamView, registry
from shien.rules.text import wareki_date, yen
from shien.rules.vec import frac, percent

FOLLOWUP_PROGRAMS = frozenset(
    pid for pid in registry().programs if f"{pid}.followup" in registry().parameters
)
SCHEDULE_STATES = (State.GRANTED, State.RESULTS_REPORTED, State.CONFIRMED, State.PAID)
REPORT_STATES = (State.CONFIRMED, State.PAID)
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
        return _notes(self.entries)


def _notes(entries: Iterable[Entry]) -> list[str]:
    out: list[str] = []
    for e in entries:
        if e.unverified and e.note and e.note not in out:
            out.append(e.note)
    return out


def rules_day(application: Application) -> date:
    """The day whose parameters govern the application: its submission (the round's rules)."""
    return (application.submitted_at or clock.now()).astimezone(JST).date()


def program_spec(application: Application) -> Spec | None:
    """The follow-up report of the application's program and frame (None: the program has none)."""
    if application.program not in FOLLOWUP_PROGRAMS:
        return None
    p = registry().at(rules_day(application))
    prefix = f"{application.program}."
    entry = p.entry(prefix + "followup")
    doc = entry.value
    if doc.get("frames") and application.frame not in doc["frames"]:
        return None
    entries = [entry, p.entry(prefix + doc["years_parameter"])]
    if "due_months" in doc:
        due_months = int(doc["due_months"])
    else:
        ref = doc["due_months_parameter"]
        entries.append(p.entry(prefix + ref["parameter"]))
        due_months = int(p[prefix + ref["parameter"]][ref["key"]])
    return Spec(
        program=application.program,
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


def due_date(fiscal_year_end: date, months: int | None = None) -> date:
    """The report due date of a fiscal year (ものづくり: `refund.formulas.report_due_months` by default)."""
    if months is None:
        months = int(registry().at(fiscal_year_end)["monozukuri.refund.formulas"]["report_due_months"])
    return add_months(fiscal_year_end, months)


def fiscal_month_day(
    application: Application,
    reports: dict[int, FollowUpReport] | None = None,
    default: tuple[int, int] | None = None,
) -> tuple[int, int, bool]:
    """(month, day, assumed): from the plan ("MM-DD", or its baseline's "YYYY-MM-DD"), else the earliest
    report's fiscal year end, else the default."""
    planned = application.plan.get("followup", {})
    text = str(planned.get("fiscal_year_end") or "")
    if not text and isinstance(planned.get("baseline"), dict):
        text = str(planned["baseline"].get("fiscal_year_end") or "")[5:]
    if text[:2].isdigit() and text[3:5].isdigit():
        return int(text[:2]), int(text[3:5]), False
    reports = _reports(application) if reports is None else reports
    if reports:
        first = reports[min(reports)].fiscal_year_end
        return first.month, first.day, False
    if default is not None:
        return default[0], default[1], True
    month, day = str(registry().at(rules_day(application))["followup.default_fiscal_year_end"]).split("-")
    return int(month), int(day), True


def fiscal_year_end(paid_on: date, year: int, month: int, day: int) -> date:
    """The end of the `year`-th fiscal year after payment (year 1: the first one ending on or after it)."""
    first = paid_on.year if (paid_on.month, paid_on.day) <= (month, day) else paid_on.year + 1
    return _clamped(first + year - 1, month, day)


def _reports(application: Application) -> dict[int, FollowUpReport]:
    return {r.year: r for r in application.followups.all()}


def _results_round_due(application: Application, spec: Spec) -> date | None:
    if not spec.results_due:
        return None
    r = registry().round(application.program, application.round_id)
    return getattr(r, spec.results_due, None) if r else None


def report_schedule(
    application: Application, at: datetime | None = None, *, default_fy: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """Every report window of a granted application: the 実績報告 deadline (where the round has one),
    then each year's follow-up report. Shared by the page, the reminders and the calendar feeds.

    Each row: kind ("results" | "followup"), year (None for 実績報告), label, fiscal_year_end,
    window_start (None: from the end of the project), due, submitted, overdue (past due, not
    submitted), open (window started), report (the FollowUpReport or None), unverified, notes.
    """
    spec = program_spec(application)
    if spec is None or application.state not in SCHEDULE_STATES:
        return []
    day = (at or clock.now()).astimezone(JST).date()
    rows: list[dict[str, Any]] = []
    results_due = _results_round_due(application, spec)
    if results_due is not None:
        submitted = application.state != State.GRANTED
        rows.append({
            "kind": "results", "year": None, "label": "実績報告", "fiscal_year_end": None,
            "window_start": None, "due": results_due, "submitted": submitted,
            "overdue": not submitted and day > results_due, "open": True, "report": None,
            "unverified": False, "notes": [], "assumed_fiscal_year": False,
        })  # fmt: skip
    if application.paid_on is None:
        return rows
    reports = _reports(application)
    month, dom, assumed = fiscal_month_day(application, reports, default_fy)
    for year in range(1, spec.years + 1):
        fy_end = fiscal_year_end(application.paid_on, year, month, dom)
        due = add_months(fy_end, spec.due_months)
        start = fy_end + timedelta(days=1)
        report = reports.get(year)
        rows.append({
            "kind": "followup", "year": year, "label": f"{spec.name}（{year}年目）", "fiscal_year_end": fy_end,
            "window_start": start, "due": due, "submitted": report is not None,
            "overdue": report is None and day > due, "open": start <= day, "report": report,
            "unverified": spec.unverified, "notes": spec.notes, "assumed_fiscal_year": assumed,
        })  # fmt: skip
    return rows


# -- checks and refunds ------------------------------------------------------------------------------


def baseline(
    application: Application, reports: dict[int, FollowUpReport] | None = None
) -> dict[str, Any] | None:
    """The 基準年度 figures: the plan's, else the year-0 report's (None: not registered yet)."""
    planned = application.plan.get("followup", {}).get("baseline")
    if planned:
        return dict(planned)
    reports = _reports(application) if reports is None else reports
    base = reports.get(BASELINE_YEAR)
    if base is None:
        return None
    return {name: getattr(base, name) for name in LABELS}


def _measure(measure: str, values: dict[str, Any]) -> tuple[int, int] | None:
    """The measure as an exact fraction (numerator, denominator); None when a figure is missing."""
    if measure in ("value_added", "productivity"):
        parts = [values.get(k) for k in ("operating_profit_yen", "personnel_yen", "depreciation_yen")]
        if any(v is None for v in parts):
            return None
        va = sum(int(v) for v in parts)
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


def _grew(now: int, base: int, rate: Fraction, years: int) -> bool:
    """now ≥ base × (1 + rate)^years, exactly."""
    growth = (1 + rate) ** years
    return now * growth.denominator >= base * growth.numerator


def _band_cap(bands: list[dict[str, Any]], employees: int, key: str) -> int:
    for band in bands:
        if band["max_employees"] is None or employees <= band["max_employees"]:
            return int(band[key])
    return int(bands[-1][key])


@dataclass
class _Context:
    application: Application
    year: int
    figures: Figures
    base: dict[str, Any]
    p: ParamView
    amount: int
    plan_years: int

    def param(self, name: str) -> Any:
        return self.p[f"{self.application.program}.{name}"]

    def entry(self, name: str) -> Entry:
        return self.p.entry(f"{self.application.program}.{name}")


def _growth(ctx: _Context, spec: dict[str, Any]) -> tuple[dict[str, Any], Fraction, list[Entry]] | None:
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
    check = {"code": spec["code"], "passed": passed,
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


def _refund_method(ctx: _Context, spec: dict[str, Any]) -> tuple[str | None, Entry | None]:
    ref = spec.get("refund")
    if not ref:
        return None, None
    return str(ctx.param(ref["parameter"])[ref["rule"]]), ctx.entry(ref["parameter"])


def _min_wage(ctx: _Context, spec: dict[str, Any]) -> tuple[dict[str, Any], Fraction, list[Entry]] | None:
    wage_view = registry().at(ctx.figures.fiscal_year_end)
    key = f"minimum_wage.{ctx.application.organization.prefecture}"
    premium = int(ctx.param(spec["premium_parameter"]))
    used = [wage_view.entry(key), ctx.entry(spec["premium_parameter"])]
    # that year's 地域別最低賃金 is not yet in the registry: unknown, never last year's carried forward
    if wage_view[key] is None:
        return {"code": spec["code"], "passed": None,
                "message": f"事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（事業年度末の地域別最低賃金が shien に未登録のため、＋{premium}円 以上の目標は確認できません）"}, Fraction(0), used  # fmt: skip
    regional = int(wage_view[key])
    passed = ctx.figures.min_wage_yen >= regional + premium
    check = {"code": spec["code"], "passed": passed,
             "message": f"事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（地域別最低賃金 {regional:,}円＋{premium}円 以上の目標）"}  # fmt: skip
    refund = Fraction(0)
    method, entry = _refund_method(ctx, spec)
    if method == "per_plan_year" and not passed:
        refund = Fraction(ctx.amount, ctx.plan_years)
        check["refund"] = f"未達の年は確定額 {yen(ctx.amount)} ÷ 事業計画年数 {ctx.plan_years}年 を返還"
        used.append(entry)  # type: ignore[arg-type]
    return check, refund, used


def _wage_special(ctx: _Context, spec: dict[str, Any]) -> tuple[dict[str, Any], Fraction, list[Entry]] | None:
    """省力化: the 賃上げ要件 of the raised cap, against the 基準年度, in the year the formula names."""
    if not ctx.application.plan.get("commitments", {}).get("wage_increase_special"):
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
    check = {"code": spec["code"], "passed": wage_ok and pay_ok,
             "message": (f"賃上げ要件 事業場内最低賃金 {ctx.figures.min_wage_yen:,}円（基準 {int(base_wage):,}円＋{increase_yen}円 以上の目標）、"
                         f"給与支給総額 {yen(ctx.figures.payroll_total_yen)}（基準 {yen(int(base_pay))}、+{percent(increase)}%以上の目標）")}  # fmt: skip
    refund = Fraction(0)
    method, _ = _refund_method(ctx, spec)
    if method == "excess_over_normal_cap" and not check["passed"]:
        employees = ctx.application.organization.employees
        cap = _band_cap(ctx.p[f"{ctx.application.program}.caps"], employees, "cap")
        excess = max(0, ctx.amount - cap)
        refund = Fraction(excess)
        check["refund"] = (f"賃上げ要件の未達: 確定額 {yen(ctx.amount)} のうち通常の補助上限額 {yen(cap)}"
                           f"（従業員{employees}人の区分）を超える {yen(excess)} を返還")  # fmt: skip
        used.append(ctx.entry("caps"))
    return check, refund, used


KINDS = {"growth": _growth, "min_wage": _min_wage, "wage_special": _wage_special}


def evaluate(
    application: Application, year: int, figures: Figures, base: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The checks of one year's report and the refund it triggers (floored once, at most the amount)."""
    spec = program_spec(application)
    if spec is None:
        raise DomainError("invalid_input", "この補助金には事業化状況報告・効果報告がありません")
    if not 1 <= year <= spec.years:  # the growth targets are powers of the year
        raise DomainError("invalid_input", f"報告年は1〜{spec.years}年目です")
    base = baseline(application) if base is None else base
    # the amount refunds are a share of: the confirmed amount once there is one (0 when nothing was
    # accepted at the inspection: then nothing was paid and nothing is refunded), else the granted one
    confirmed = application.confirmed_yen
    amount = confirmed if confirmed is not None else application.granted_yen or 0
    plan_years = int(application.plan.get("followup", {}).get("plan_years", spec.years))
    checks: list[dict[str, Any]] = []
    if base is None:
        checks.append({"code": "baseline", "passed": None, "unverified": False,
                       "message": "基準年度の数値が未登録のため、伸び率は確認できません"})  # fmt: skip
    ctx = _Context(
        application, year, figures, base or {}, registry().at(rules_day(application)), amount, plan_years
    )
    refund = Fraction(0)
    spec_entry = spec.entries[0]
    for item in spec.checks:
        if item.get("frames") and application.frame not in item["frames"]:
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
        notes = _notes(entries)
        if notes:
            check["notes"] = notes
        checks.append(check)
    return checks, min(floor(refund), amount)


# -- writes -------------------------------------------------------------------------------------------


def _missing(spec: Spec, figures: Figures) -> list[dict[str, str]]:
    return [
        {"field": name, "label": LABELS[name], "message": f"{LABELS[name]}を入力してください"}
        for name in spec.required
        if getattr(figures, name) is None
    ]


def _save(application: Application, actor: User, year: int, figures: Figures,
          checks: list[dict[str, Any]], refund_yen: int, duplicate: str) -> FollowUpReport:  # fmt: skip
    try:
        with transaction.atomic():
            return FollowUpReport.objects.create(
                application=application, year=year, checks=checks, refund_yen=refund_yen,
                submitted_by=actor, **figures.as_fields(),
            )  # fmt: skip
    except IntegrityError:  # a double click or a second tab: the one report stands
        raise DomainError("duplicate", duplicate) from None


def check_fiscal_year(application: Application, year: int, fy_end: date) -> None:
    """The reported fiscal year must be the report year's: the dated parameters (the regional minimum
    wage of that year) are looked up by its end, so an earlier date must not pick an older, lower wage.
    Where the business's fiscal year end is known it must be that year's; where it is only assumed, it
    must fall in the `year`-th year after payment."""
    paid_on = application.paid_on
    if paid_on is None:
        return
    month, day, assumed = fiscal_month_day(application)
    expected = fiscal_year_end(paid_on, year, month, day)
    if assumed:
        ok = add_months(paid_on, 12 * (year - 1)) <= fy_end < add_months(paid_on, 12 * year)
    else:
        ok = fy_end == expected
    if not ok:
        message = f"{year}年目の報告の事業年度末は {wareki_date(expected)} です"
        if assumed:
            message = f"{year}年目の報告は、支払日（{wareki_date(paid_on)}）から{year}年目に終わる事業年度のものです"
        raise DomainError("invalid_input", message, [{"field": "fiscal_year_end", "message": message}])


def check_baseline_year(application: Application, fy_end: date) -> None:
    """The 基準年度 is the last fiscal year closed before the project. Year 1 is the first fiscal year
    ending on or after the payment (`fiscal_year_end`), so the 基準年度 must end before the payment date;
    before the payment, it must have closed (end before today). Registered once and then locked, a later
    date would make the growth checks compare a year with itself or with a later one."""
    paid_on = application.paid_on
    if paid_on is not None:
        if fy_end < paid_on:
            return
        first = fiscal_year_end(paid_on, 1, fy_end.month, fy_end.day)
        message = (
            f"基準年度の事業年度末は、支払日（{wareki_date(paid_on)}）より前の日付を入力してください。"
            f"支払日以後に終わる事業年度は、1年目（{wareki_date(first)} に終わる事業年度）以降の報告で報告します。"
            "基準年度は、補助事業を始める前の直近の決算です"
        )
    else:
        today = clock.today()
        if fy_end < today:
            return
        message = (
            "基準年度の事業年度末は、決算の済んだ事業年度の末日（本日より前の日付）を入力してください。"
            "基準年度は、補助事業を始める前の直近の決算です"
        )
    raise DomainError("invalid_input", message, [{"field": "fiscal_year_end", "message": message}])


def _authorize(actor: User, application: Application) -> Spec:
    spec = program_spec(application)
    if spec is None:
        raise DomainError("invalid_input", "この補助金の事業化状況報告・効果報告は対象外です")
    if not can_act_for(actor, application.organization):
        raise DomainError("forbidden", "この申請の報告を提出する権限がありません")
    return spec


@transaction.atomic
def baseline_submit(*, actor: User, application: Application, figures: Figures) -> FollowUpReport:
    """The 基準年度 figures (year 0), once; the growth checks of every later year compare with them."""
    spec = _authorize(actor, application)
    if application.state not in SCHEDULE_STATES:
        raise DomainError("invalid_state", "交付決定の後に基準年度の数値を登録します")
    if application.plan.get("followup", {}).get("baseline"):
        raise DomainError("duplicate", "基準年度の数値は申請時の計画に登録されています")
    missing = _missing(spec, figures)
    if missing:
        raise DomainError("invalid_input", "入力されていない項目があります", missing)
    check_baseline_year(application, figures.fiscal_year_end)
    report = _save(
        application, actor, BASELINE_YEAR, figures, [], 0, "基準年度の数値はすでに登録されています"
    )
    audit_record(actor=actor, action="followup.baseline", obj=application,
                 data={"fiscal_year_end": figures.fiscal_year_end.isoformat()})  # fmt: skip
    return report


@transaction.atomic
def followup_submit(*, actor: User, application: Application, year: int, figures: Figures) -> FollowUpReport:
    spec = _authorize(actor, application)
    if application.state not in REPORT_STATES:
        raise DomainError("invalid_state", f"補助金額の確定後に{spec.name}を提出します")
    if not 1 <= year <= spec.years:
        raise DomainError("invalid_input", f"報告年は1〜{spec.years}年目です")
    missing = _missing(spec, figures)
    if missing:
        raise DomainError("invalid_input", "入力されていない項目があります", missing)
    check_fiscal_year(application, year, figures.fiscal_year_end)
    today = clock.today()
    if today <= figures.fiscal_year_end:  # a year is reported once it has closed, never in advance
        raise DomainError(
            "not_yet",
            f"{year}年目の{spec.name}は、事業年度末（{wareki_date(figures.fiscal_year_end)}）の翌日から提出できます",
        )
    base = baseline(application)
    if base is None:
        raise DomainError(
            "baseline_required", "先に基準年度（補助事業を始める前の直近の決算）の数値を登録してください"
        )
    checks, refund_yen = evaluate(application, year, figures, base)
    report = _save(
        application, actor, year, figures, checks, refund_yen, f"{year}年目の報告はすでに提出されています"
    )
    audit_record(actor=actor, action="followup.submit", obj=application,
                 data={"year": year, "refund_yen": refund_yen, "failed": [c["code"] for c in checks if c["passed"] is False]})  # fmt: skip
    return report


# -- reads ----------------------------------------------------------------------------------------------


def actable_applications(user: User) -> QuerySet[Application]:
    """Applications the user may act for (members, advisors with consent), through the selector."""
    own = Q(organization__memberships__user=user) | Q(
        organization__advisor_consents__advisor=user, organization__advisor_consents__revoked_at__isnull=True
    )
    return applications_for(user).filter(own).distinct()


def overdue(
    at: datetime, fiscal_year_end_month_day: tuple[int, int] | None = None
) -> list[tuple[Application, int]]:
    """Paid applications of every program whose yearly report is past due. Each application's fiscal
    year comes from its plan or reports; `fiscal_year_end_month_day` is the default where neither says."""
    out = []
    applications = (
        Application.objects.filter(program__in=FOLLOWUP_PROGRAMS, state=State.PAID)
        .select_related("organization")
        .prefetch_related("followups")
        .order_by("pk")
    )
    for application in applications:
        for row in report_schedule(application, at, default_fy=fiscal_year_end_month_day):
            if row["kind"] == "followup" and row["overdue"]:
                out.append((application, row["year"]))
    return out
