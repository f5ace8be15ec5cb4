"""Hypothesis strategies for profiles, shared by the rules and the screen property tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from shien.rules.registry import JST, registry
from shien.rules.vocab import (
    EXPENSE_CODES,
    INDUSTRIES,
    INVOICE_FUNCTION_CODES,
    PREFECTURES,
    PURPOSE_CODES,
    SUCCESSION_CODES,
)

EMPLOYEE_EDGES = [0, 1, 5, 6, 20, 21, 50, 51, 99, 100, 101, 200, 201, 300, 301, 900, 901]
AMOUNT_EDGES = [
    0,
    1,
    49_999,
    50_000,
    99_999,
    100_000,
    500_000,
    1_000_000,
    1_499_999,
    1_500_000,
    2_000_000,
    3_000_000,
    4_500_000,
    10_000_000,
    22_500_000,
    30_000_000,
    30_000_001,
    60_000_000,
    200_000_000,
]


def _round_edges() -> list[datetime]:
    out = []
    for program in registry().programs.values():
        for r in program.rounds:
            for moment in (r.acceptance_start, r.acceptance_end):
                if moment is not None:
                    out += [moment - timedelta(seconds=1), moment, moment + timedelta(seconds=1)]
    return out


def moments() -> st.SearchStrategy[datetime]:
    # hypothesis draws naive datetimes within naive bounds; the zone is attached right after
    random = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31)).map(  # noqa: DTZ001
        lambda d: d.replace(microsecond=0, tzinfo=JST)
    )
    return st.one_of(st.sampled_from(_round_edges()), random)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def amounts() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(AMOUNT_EDGES), st.integers(0, 300_000_000))


@st.composite
def expenses(draw: st.DrawFn) -> list[dict[str, Any]]:
    items = []
    for category in draw(st.lists(st.sampled_from(EXPENSE_CODES), max_size=6)):
        item: dict[str, Any] = {"category": category, "amount_yen": draw(amounts())}
        if category == "software":
            item["processes"] = draw(optional(st.integers(1, 8)))
            functions = draw(optional(st.lists(st.sampled_from(INVOICE_FUNCTION_CODES), unique=True)))
            if functions is not None:
                item["invoice_functions"] = functions
        items.append(item)
    return items


@st.composite
def profiles(draw: st.DrawFn, *, with_as_of: bool = True) -> dict[str, Any]:
    tri = optional(st.booleans())
    business = {
        "industry": draw(st.sampled_from(INDUSTRIES)),
        "employees": draw(st.one_of(st.sampled_from(EMPLOYEE_EDGES), st.integers(0, 2000))),
        "prefecture": draw(optional(st.sampled_from(PREFECTURES))),
        "capital_yen": draw(
            optional(
                st.sampled_from(
                    [0, 10_000_000, 50_000_000, 50_000_001, 100_000_000, 300_000_000, 300_000_001]
                )
            )
        ),
        "min_hourly_wage_yen": draw(optional(st.integers(850, 1300))),
        "deficit": draw(tri),
        "was_tax_exempt": draw(tri),
        "invoice_registered": draw(tri),
        "revitalization": draw(tri),
        "operating_margin_decline": draw(tri),
        "labor_shortage": draw(tri),
        "atotsugi_finalist": draw(tri),
        "tokutei_sogyo_support": draw(tri),
        "founded_on": draw(optional(st.dates(min_value=date(2015, 1, 1), max_value=date(2027, 12, 31)))),
        "applied_rounds": draw(
            optional(st.lists(st.sampled_from(["monozukuri/17", "jizokuka/15"]), unique=True))
        ),
    }
    plan = {
        "purposes": draw(optional(st.lists(st.sampled_from(PURPOSE_CODES), unique=True))),
        "expenses": draw(st.one_of(expenses(), st.just(None)))
        if draw(st.integers(0, 9)) == 0
        else draw(expenses()),
        "consortium_members": draw(optional(st.integers(1, 30))),
        "succession_types": draw(optional(st.lists(st.sampled_from(SUCCESSION_CODES), unique=True))),
        "commitments": {
            "wage_increase_special": draw(st.booleans()),
            "covid_recovery_special": draw(st.booleans()),
            "planned_min_hourly_wage_yen": draw(optional(st.integers(850, 1400))),
            "planned_employees": draw(optional(st.integers(0, 60))),
            "value_added_cagr_pct": draw(optional(st.sampled_from(["0", "2.99", "3", "3.5", "10"]))),
            "payroll_cagr_pct": draw(optional(st.sampled_from(["0", "1.49", "1.5", "6"]))),
        },
    }
    doc: dict[str, Any] = {"business": business, "plan": plan}
    if with_as_of:
        doc["as_of"] = draw(moments()).isoformat()
    return doc
