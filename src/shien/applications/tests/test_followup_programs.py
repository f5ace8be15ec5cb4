"""Follow-up reports of every grant program: the schedule, the checks (one yen either side of each target),
the refund, and a property: the refund stays between 0 and the amount and never falls as payroll falls."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shien.accounts.models import Organization, Role, User
from shien.applications import followup
from shien.applications.models import Application, FollowUpReport, State
from shien.applications.tests.factories import organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

# (frame, round, a moment inside the round) of one application per program
PROGRAMS = {
    "monozukuri": ("shoryokuka", "18", datetime(2024, 3, 20, 10, tzinfo=JST)),
    "jizokuka": ("tsujo", "15", datetime(2024, 3, 1, 10, tzinfo=JST)),
    "it_donyu": ("tsujo", "2", datetime(2024, 4, 1, 10, tzinfo=JST)),
    "shoryokuka": ("catalog", "1", datetime(2024, 7, 1, 10, tzinfo=JST)),
    "jigyo_shokei": ("keiei_kakushin", "9", datetime(2024, 4, 10, 10, tzinfo=JST)),
}
BASE = {
    "fiscal_year_end": date(2024, 3, 31),
    "operating_profit_yen": 20_000_000,
    "personnel_yen": 70_000_000,
    "depreciation_yen": 10_000_000,
    "payroll_total_yen": 60_000_000,
    "min_wage_yen": 1000,
    "employees": 20,
    "sales_yen": 300_000_000,
}  # fmt: skip  (付加価値額 1億円, 1人当たり 500万円)


def make_app(
    program: str,
    owner: User,
    *,
    frame: str | None = None,
    state: State = State.PAID,
    confirmed_yen: int = 12_000_000,
    paid_on: date | None = date(2025, 1, 31),
    plan: dict[str, Any] | None = None,
    org: Organization | None = None,
    number: int = 1,
) -> Application:
    """An application already taken to `state` (the workflow itself is tested elsewhere)."""
    default_frame, round_id, at = PROGRAMS[program]
    return Application.objects.create(
        organization=org or organization(owner, employees=21), program=program, frame=frame or default_frame,
        round_id=round_id, state=state, plan=plan or {}, estimate_yen=confirmed_yen, granted_yen=confirmed_yen,
        confirmed_yen=confirmed_yen if state in (State.CONFIRMED, State.PAID) else None,
        paid_on=paid_on if state == State.PAID else None, submitted_at=at, created_by=owner,
        receipt_number=f"{program.upper()}-{round_id}-{number:06d}",
    )  # fmt: skip


def figures(year: int, **overrides: Any) -> followup.Figures:
    values = {**BASE, "fiscal_year_end": date(2024 + year, 3, 31)} | overrides
    return followup.Figures(**values)


def with_baseline(app: Application, owner: User, **overrides: Any) -> Application:
    followup.baseline_submit(actor=owner, application=app, figures=followup.Figures(**(BASE | overrides)))
    return app


# -- schedule -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("program", "name", "years", "results_due"),
    [
        ("monozukuri", "事業化状況報告", 5, date(2024, 12, 10)),
        ("jizokuka", "事業効果報告", 1, date(2024, 11, 10)),
        ("it_donyu", "事業実施効果報告", 3, None),
        ("shoryokuka", "効果報告", 5, None),
        ("jigyo_shokei", "事業化状況報告", 5, None),
    ],
)
def test_schedule_of_every_program(program: str, name: str, years: int, results_due: date | None) -> None:
    owner = user("o@example.jp")
    app = make_app(program, owner)
    rows = followup.report_schedule(app, datetime(2025, 7, 1, 9, tzinfo=JST))
    results = [r for r in rows if r["kind"] == "results"]
    assert [r["due"] for r in results] == ([results_due] if results_due else [])
    assert all(r["submitted"] and not r["overdue"] for r in results)  # paid: the results report is long done
    reports = [r for r in rows if r["kind"] == "followup"]
    assert [r["year"] for r in reports] == list(range(1, years + 1))
    assert reports[0]["label"] == f"{name}（1年目）"
    # paid 2025-01-31, March year end assumed: year 1 ends 2025-03-31, due three months later
    assert (reports[0]["fiscal_year_end"], reports[0]["window_start"], reports[0]["due"]) == (
        date(2025, 3, 31), date(2025, 4, 1), date(2025, 6, 30))  # fmt: skip
    assert reports[0]["overdue"] and reports[0]["assumed_fiscal_year"]
    assert reports[-1]["due"] == date(2025 + years - 1, 6, 30)
    assert reports[-1]["overdue"] is (years == 1)
    assert reports[0]["unverified"] and reports[0]["notes"]  # every program's due months are unverified


@pytest.mark.django_db
def test_schedule_edges() -> None:
    owner = user("o@example.jp")
    day_before = datetime(2025, 6, 30, 23, 59, tzinfo=JST)
    app = make_app("monozukuri", owner)
    assert not followup.report_schedule(app, day_before)[1]["overdue"]  # due day itself: not yet overdue
    assert followup.report_schedule(app, datetime(2025, 7, 1, 0, 0, tzinfo=JST))[1]["overdue"]
    # before payment: only the 実績報告, overdue from the day after its deadline
    granted = make_app("jizokuka", owner, state=State.GRANTED, org=app.organization, number=2)
    rows = followup.report_schedule(granted, datetime(2024, 11, 11, tzinfo=JST))
    assert [(r["kind"], r["due"], r["overdue"]) for r in rows] == [("results", date(2024, 11, 10), True)]
    assert not followup.report_schedule(granted, datetime(2024, 11, 10, 23, tzinfo=JST))[0]["overdue"]
    # a frame without reports, and a state before the grant, have no schedule
    assert followup.report_schedule(make_app("jigyo_shokei", owner, frame="senmonka", org=app.organization, number=3)) == []  # fmt: skip
    assert followup.report_schedule(make_app("monozukuri", owner, state=State.ADOPTED, org=app.organization, number=4)) == []  # fmt: skip


@pytest.mark.django_db
def test_the_fiscal_year_end_of_the_baseline_moves_every_window() -> None:
    owner = user("o@example.jp")
    app = with_baseline(make_app("shoryokuka", owner), owner, fiscal_year_end=date(2024, 12, 31))
    rows = followup.report_schedule(app, datetime(2025, 7, 1, tzinfo=JST))
    assert [(r["fiscal_year_end"], r["due"]) for r in rows[:2]] == [
        (date(2025, 12, 31), date(2026, 3, 31)), (date(2026, 12, 31), date(2027, 3, 31))]  # fmt: skip
    assert not rows[0]["assumed_fiscal_year"]


def test_months_are_added_to_month_ends_and_clamped() -> None:
    assert followup.add_months(date(2025, 3, 31), 3) == date(2025, 6, 30)
    assert followup.add_months(date(2025, 2, 28), 3) == date(2025, 5, 31)  # a month end stays one
    assert followup.add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert followup.add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert followup.add_months(date(2025, 8, 30), 6) == date(2026, 2, 28)
    assert followup.add_months(date(2025, 10, 15), 3) == date(2026, 1, 15)
    assert followup.fiscal_year_end(date(2024, 3, 1), 1, 2, 29) == date(2025, 2, 28)


# -- checks and refunds ------------------------------------------------------------------------------


def check(checks: list[dict[str, Any]], code: str) -> dict[str, Any]:
    return next(c for c in checks if c["code"] == code)


@pytest.mark.django_db
def test_monozukuri_targets_one_yen_either_side() -> None:
    owner = user("o@example.jp")
    app = make_app("monozukuri", owner, confirmed_yen=25_000_000)
    ok = figures(1, operating_profit_yen=23_000_000, payroll_total_yen=60_900_000, min_wage_yen=1050)
    checks, refund = followup.evaluate(app, 1, ok, BASE)
    assert [c["passed"] for c in checks] == [True, True, True] and refund == 0
    assert not check(checks, "value_added")["unverified"]
    short = figures(1, operating_profit_yen=22_999_999, payroll_total_yen=60_899_999, min_wage_yen=1049)
    checks, refund = followup.evaluate(app, 1, short, BASE)
    assert [c["passed"] for c in checks] == [False, False, False]
    assert refund == 5_000_000  # the wage year: 25,000,000 ÷ 5; payroll is judged at the end of the plan
    assert check(checks, "min_wage")["unverified"] and check(checks, "min_wage")["refund_yen"] == 5_000_000


@pytest.mark.django_db
def test_shoryokuka_productivity_per_employee_exactly() -> None:
    owner = user("o@example.jp")
    app = make_app("shoryokuka", owner)
    # base 500万円/人; year 1 target 515万円/人 (3%)
    for employees, va, passed in ((20, 103_000_000, True), (20, 102_999_999, False),
                                  (21, 108_150_000, True), (21, 108_149_999, False)):  # fmt: skip
        year1 = figures(1, operating_profit_yen=va - 80_000_000, employees=employees)
        checks, refund = followup.evaluate(app, 1, year1, BASE)
        assert check(checks, "productivity")["passed"] is passed, (employees, va)
        assert refund == 0
    year2 = figures(2, operating_profit_yen=106_090_000 - 80_000_000)  # 500万 × 1.03² × 20
    assert check(followup.evaluate(app, 2, year2, BASE)[0], "productivity")["passed"]
    year2 = figures(2, operating_profit_yen=106_089_999 - 80_000_000)
    assert check(followup.evaluate(app, 2, year2, BASE)[0], "productivity")["passed"] is False


@pytest.mark.django_db
def test_shoryokuka_wage_requirement_shortfall_returns_the_raised_part() -> None:
    owner = user("o@example.jp")
    plan = {"commitments": {"wage_increase_special": True}}
    app = make_app(
        "shoryokuka", owner, plan=plan, confirmed_yen=12_000_000
    )  # 21人: cap 1,000万 (特例 1,500万)
    met = figures(1, operating_profit_yen=30_000_000, min_wage_yen=1045, payroll_total_yen=63_600_000)
    checks, refund = followup.evaluate(app, 1, met, BASE)
    assert check(checks, "wage_special")["passed"] and refund == 0
    for wage, payroll in ((1044, 63_600_000), (1045, 63_599_999)):
        missed = figures(1, operating_profit_yen=30_000_000, min_wage_yen=wage, payroll_total_yen=payroll)
        checks, refund = followup.evaluate(app, 1, missed, BASE)
        wage_check = check(checks, "wage_special")
        assert wage_check["passed"] is False and wage_check["unverified"] and refund == 2_000_000
        assert "10,000,000円" in wage_check["refund"] and wage_check["notes"]
    # checked once, in the year the formula names
    assert all(c["code"] != "wage_special" for c in followup.evaluate(app, 2, missed, BASE)[0])
    # without the special, nothing to check; below the normal cap, nothing to return
    assert all(c["code"] != "wage_special" for c in followup.evaluate(make_app("shoryokuka", owner, org=app.organization, number=2), 1, missed, BASE)[0])  # fmt: skip
    small = make_app("shoryokuka", owner, plan=plan, confirmed_yen=9_000_000, org=app.organization, number=3)
    assert followup.evaluate(small, 1, missed, BASE)[1] == 0


@pytest.mark.django_db
def test_it_donyu_and_jigyo_shokei_growth_is_simple_and_informational() -> None:
    owner = user("o@example.jp")
    it = make_app("it_donyu", owner)
    # 労働生産性 +6% after 2 years (3% a year, simple): 530万円/人 × 20人 = 1億600万円
    checks, refund = followup.evaluate(it, 2, figures(2, operating_profit_yen=26_000_000), BASE)
    productivity = check(checks, "productivity")
    assert productivity["passed"] and productivity["informational"] and productivity["unverified"]
    assert "2年で6%以上" in productivity["message"] and refund == 0
    checks, refund = followup.evaluate(it, 2, figures(2, operating_profit_yen=25_999_999), BASE)
    assert check(checks, "productivity")["passed"] is False and refund == 0
    shokei = make_app("jigyo_shokei", owner, org=it.organization, number=2)
    checks, _ = followup.evaluate(shokei, 5, figures(5, operating_profit_yen=35_000_000), BASE)  # +15%
    assert (
        check(checks, "value_added")["passed"] and "5年で15%以上" in check(checks, "value_added")["message"]
    )
    checks, refund = followup.evaluate(shokei, 5, figures(5, operating_profit_yen=34_999_999), BASE)
    assert check(checks, "value_added")["passed"] is False and refund == 0


@pytest.mark.django_db
def test_jizokuka_reports_sales_and_the_wage_frame_its_wage() -> None:
    owner = user("o@example.jp")
    app = make_app("jizokuka", owner)
    checks, refund = followup.evaluate(app, 1, figures(1, sales_yen=300_000_000), BASE)
    assert [c["code"] for c in checks] == ["sales"] and checks[0]["passed"] and refund == 0
    assert followup.evaluate(app, 1, figures(1, sales_yen=299_999_999), BASE)[0][0]["passed"] is False
    chingin = make_app("jizokuka", owner, frame="chingin", org=app.organization, number=2)
    # 広島県 on 2025-03-31: 1,020円 + 50円
    checks, _ = followup.evaluate(chingin, 1, figures(1, min_wage_yen=1069), BASE)
    assert (
        check(checks, "min_wage")["passed"] is False
        and "1,020円＋50円" in check(checks, "min_wage")["message"]
    )
    assert check(followup.evaluate(chingin, 1, figures(1, min_wage_yen=1070), BASE)[0], "min_wage")["passed"]


@pytest.mark.django_db
def test_submission_needs_the_baseline_the_required_figures_and_happens_once() -> None:
    owner = user("o@example.jp")
    app = make_app("jizokuka", owner)
    with pytest.raises(DomainError, match="基準年度"):
        followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    with pytest.raises(DomainError, match="入力されていない") as missing:
        followup.baseline_submit(actor=owner, application=app, figures=followup.Figures(**(BASE | {"sales_yen": None})))  # fmt: skip
    assert missing.value.errors[0]["field"] == "sales_yen"
    with_baseline(app, owner)
    with pytest.raises(DomainError, match="すでに登録"):
        with_baseline(app, owner)
    with pytest.raises(DomainError, match="1〜1年目"):
        followup.followup_submit(actor=owner, application=app, year=2, figures=figures(2))
    with pytest.raises(DomainError, match="権限"):
        followup.followup_submit(actor=user("x@example.jp", Role.SECRETARIAT), application=app, year=1, figures=figures(1))  # fmt: skip
    report = followup.followup_submit(
        actor=owner, application=app, year=1, figures=figures(1, sales_yen=330_000_000)
    )
    assert report.checks[0]["passed"] and report.refund_yen == 0
    with pytest.raises(DomainError, match="すでに提出"):
        followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    assert FollowUpReport.objects.filter(application=app).count() == 2  # 基準年度 and 1年目
    assert list(AuditLog.objects.filter(action__startswith="followup.").values_list("action", flat=True)) == [
        "followup.submit", "followup.baseline"]  # fmt: skip
    granted = make_app("jizokuka", owner, state=State.GRANTED, org=app.organization, number=2)
    with_baseline(granted, owner)  # the baseline may come before payment, the report may not
    with pytest.raises(DomainError, match="確定後"):
        followup.followup_submit(actor=owner, application=granted, year=1, figures=figures(1))


@pytest.mark.django_db
def test_overdue_covers_every_program() -> None:
    owner = user("o@example.jp")
    apps = {p: make_app(p, owner, number=i) for i, p in enumerate(PROGRAMS)}
    with_baseline(apps["jizokuka"], owner)
    followup.followup_submit(actor=owner, application=apps["jizokuka"], year=1, figures=figures(1))
    late = followup.overdue(datetime(2025, 7, 1, tzinfo=JST))
    assert sorted((a.program, y) for a, y in late) == sorted((p, 1) for p in PROGRAMS if p != "jizokuka")
    assert followup.overdue(datetime(2025, 6, 30, 23, tzinfo=JST)) == []


# -- property -------------------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=10**9)
PAYROLL = st.integers(min_value=0, max_value=10**10)


def _unsaved(program: str, amount: int, plan: dict[str, Any]) -> Application:
    frame, round_id, at = PROGRAMS[program]
    org = Organization(name="x", prefecture="広島県", industry="製造業", employees=21)
    return Application(organization=org, program=program, frame=frame, round_id=round_id, state=State.PAID,
                       plan=plan, confirmed_yen=amount, submitted_at=at)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    program=st.sampled_from(["monozukuri", "shoryokuka"]),
    amount=AMOUNTS,
    base_pay=st.integers(min_value=1, max_value=10**10),
    pays=st.tuples(PAYROLL, PAYROLL),
    wage=st.integers(min_value=0, max_value=2000),
    plan_years=st.integers(min_value=1, max_value=5),
)
def test_refund_is_bounded_and_never_falls_when_payroll_falls(
    program: str, amount: int, base_pay: int, pays: tuple[int, int], wage: int, plan_years: int
) -> None:
    plan = {"followup": {"plan_years": plan_years}, "commitments": {"wage_increase_special": True}}
    app = _unsaved(program, amount, plan)
    base = BASE | {"payroll_total_yen": base_pay}
    year = plan_years if program == "monozukuri" else 1
    low, high = sorted(pays)
    refunds = []
    for payroll in (low, high):
        year_figures = figures(year, payroll_total_yen=payroll, min_wage_yen=wage)
        _, refund = followup.evaluate(app, year, year_figures, base)
        assert 0 <= refund <= amount
        refunds.append(refund)
    assert refunds[0] >= refunds[1]
