"""Runs the policy-readable follow-up cases in cases/followup/*.yaml through `rules.followup.evaluate`."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shien.rules import followup
from shien.rules.tests.test_cases import load_cases

CASES = Path(__file__).parent / "cases" / "followup"
SUBJECT = ("program", "frame", "day", "amount_yen", "plan_years", "prefecture", "employees", "wage_special")


def _load() -> list[Any]:
    return [
        pytest.param(case, defaults, id=f"{stem}: {case['name']}")
        for stem, case, defaults in load_cases(CASES)
    ]


def _figures(values: dict[str, Any]) -> followup.Figures:
    return followup.Figures(**values)


@pytest.mark.parametrize(("case", "defaults"), _load())
def test_followup_case(case: dict[str, Any], defaults: dict[str, Any]) -> None:
    given = {k: copy.deepcopy(v) for k, v in defaults.items() if k not in ("figures", "base")} | {
        k: v for k, v in case.items() if k in SUBJECT
    }
    expected = case["output"]
    spec = followup.program_spec(given["program"], given["frame"], given["day"])
    if expected.get("report") is None and "report" in expected:
        assert spec is None, f"{given['program']}/{given['frame']} has a follow-up report: {spec}"
        return
    assert spec is not None, f"{given['program']}/{given['frame']} has no follow-up report"
    for key, want in (expected.get("report") or {}).items():
        assert getattr(spec, key) == want, f"report.{key}: {getattr(spec, key)!r} != {want!r}"
    if "year" not in case:
        return
    base = defaults.get("base") if "base" not in case else case["base"]
    if base is not None and "base_changes" in case:
        base = base | case["base_changes"]
    figures = dict(defaults["figures"]) | (case.get("figures") or {})
    # each year's figures close one fiscal year after the 基準年度's, unless the case says otherwise
    first = defaults["base"]["fiscal_year_end"]
    figures.setdefault("fiscal_year_end", date(first.year + case["year"], first.month, first.day))
    subject = followup.Subject(
        program=given["program"],
        frame=given["frame"],
        day=given["day"],
        amount=given["amount_yen"],
        plan_years=given.get("plan_years", spec.years),
        prefecture=given.get("prefecture", ""),
        employees=given.get("employees", 0),
        wage_special=given.get("wage_special", False),
    )
    checks, refund = followup.evaluate(spec, subject, case["year"], _figures(figures), base)
    by_code = {c["code"]: c for c in checks}
    trace = "\n".join(f"  {c}" for c in checks)
    if "passed" in expected:
        got = {code: c["passed"] for code, c in by_code.items()}
        assert got == expected["passed"], f"passed: {got} != {expected['passed']}\n{trace}"
    if "refund_yen" in expected:
        assert refund == expected["refund_yen"], f"refund_yen: {refund} != {expected['refund_yen']}\n{trace}"
    for code, want in (expected.get("refund_by_check") or {}).items():
        assert by_code[code].get("refund_yen", 0) == want, f"{code}.refund_yen\n{trace}"
    if "unverified" in expected:
        got_unverified = sorted(code for code, c in by_code.items() if c["unverified"])
        assert got_unverified == sorted(expected["unverified"]), f"unverified: {got_unverified}\n{trace}"
    for code, text in (expected.get("message") or {}).items():
        assert text in by_code[code]["message"], (
            f"{code}.message: {by_code[code]['message']!r} lacks {text!r}"
        )
    for code, text in (expected.get("refund_reason") or {}).items():
        assert text in by_code[code].get("refund", ""), f"{code}.refund: {by_code[code].get('refund')!r}"
