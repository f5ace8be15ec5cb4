"""Properties of the follow-up refund, over every program's follow-up rule: the refund is between 0 and
the amount, is the floor of the checks' exact shares (capped), and is 0 when no check failed."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from shien.rules import followup

# (frame, rules day) of each program with a follow-up report
PROGRAMS = {
    "monozukuri": ("shoryokuka", date(2024, 3, 20)),
    "jizokuka": ("chingin", date(2024, 3, 1)),
    "it_donyu": ("tsujo", date(2024, 4, 1)),
    "shoryokuka": ("catalog", date(2024, 7, 1)),
    "jigyo_shokei": ("keiei_kakushin", date(2024, 4, 10)),
}
yen = st.integers(min_value=0, max_value=10**10)
positive = st.integers(min_value=1, max_value=10**10)


@st.composite
def figures(draw: st.DrawFn, year: int) -> followup.Figures:
    return followup.Figures(
        fiscal_year_end=date(2024 + year, draw(st.sampled_from([3, 9, 12])), 28),
        operating_profit_yen=draw(st.integers(min_value=-(10**9), max_value=10**10)),
        personnel_yen=draw(yen),
        depreciation_yen=draw(yen),
        payroll_total_yen=draw(positive),
        min_wage_yen=draw(st.integers(min_value=800, max_value=1600)),
        employees=draw(st.none() | st.integers(min_value=1, max_value=500)),
        sales_yen=draw(st.none() | positive),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), program=st.sampled_from(sorted(PROGRAMS)))
def test_refund_is_bounded_and_zero_when_targets_met(data: st.DataObject, program: str) -> None:
    frame, day = PROGRAMS[program]
    spec = followup.program_spec(program, frame, day)
    assert spec is not None
    year = data.draw(st.integers(min_value=1, max_value=spec.years))
    subject = followup.Subject(
        program=program,
        frame=frame,
        day=day,
        amount=data.draw(st.integers(min_value=0, max_value=10**9)),
        plan_years=data.draw(st.integers(min_value=1, max_value=spec.years)),
        prefecture="東京都",
        employees=data.draw(st.integers(min_value=1, max_value=300)),
        wage_special=data.draw(st.booleans()),
    )
    base = data.draw(st.none() | figures(0).map(followup.Figures.as_fields))
    checks, refund = followup.evaluate(spec, subject, year, data.draw(figures(year)), base)
    assert 0 <= refund <= subject.amount
    # floored once: at least the sum of each check's floored share, less than one yen more per check
    floors = sum(c.get("refund_yen", 0) for c in checks)
    assert min(floors, subject.amount) <= refund <= min(floors + len(checks), subject.amount)
    if all(c["passed"] is not False for c in checks):
        assert refund == 0
    for check in checks:
        assert check["message"]
        assert isinstance(check["unverified"], bool)
        if check.get("refund_yen"):
            assert check["passed"] is False and check["refund"]
