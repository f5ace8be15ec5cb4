"""事業化状況報告・効果報告: the report windows, yearly figures, automatic checks and the refund (返還).

The arithmetic (each program's spec from its `<program>.followup` parameter, the report dates, the growth
checks and the refund) is rules: `shien.rules.followup`, from plain values. This module reads the
application and its reports, checks who may submit and when, stores the report and audits it.

Year 0 is the 基準年度 (the last fiscal year before the project), entered once by the applicant when the
plan does not already carry `plan["followup"]["baseline"]`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
from shien.rules import followup as rules
from shien.rules.followup import (  # AMOUNT_FIELDS and MEASURES: re-exported for the pages
    AMOUNT_FIELDS,  # noqa: F401
    BASELINE_YEAR,
    FOLLOWUP_PROGRAMS,
    LABELS,
    MEASURES,  # noqa: F401
    Figures,
    Spec,
    add_months,
    fiscal_year_end,
)
from shien.rules.registry import JST, registry
from shien.rules.text import wareki_date

SCHEDULE_STATES = (State.GRANTED, State.RESULTS_REPORTED, State.CONFIRMED, State.PAID)
REPORT_STATES = (State.CONFIRMED, State.PAID)


def rules_day(application: Application) -> date:
    """The day whose parameters govern the application: its submission (the round's rules)."""
    return (application.submitted_at or clock.now()).astimezone(JST).date()


def program_spec(application: Application) -> Spec | None:
    """The follow-up report of the application's program and frame (None: the program has none)."""
    return rules.program_spec(application.program, application.frame, rules_day(application))


# -- dates ------------------------------------------------------------------------------------------


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
    plan = application.plan
    subject = rules.Subject(
        program=application.program,
        frame=application.frame,
        day=rules_day(application),
        amount=amount,
        plan_years=int(plan.get("followup", {}).get("plan_years", spec.years)),
        prefecture=application.organization.prefecture,
        employees=application.organization.employees,
        wage_special=bool(plan.get("commitments", {}).get("wage_increase_special")),
    )
    return rules.evaluate(spec, subject, year, figures, base)


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
