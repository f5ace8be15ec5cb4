"""Invariants of every grant frame, over generated businesses (hypothesis)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shien.rules.columns import Batch, profile_to_record
from shien.rules.engine import estimate, evaluate
from shien.rules.output import EstimateDocument
from shien.rules.registry import JST
from shien.rules.schema import Profile
from shien.rules.tests.strategies import profiles

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _grants(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    profile = Profile.model_validate(doc)
    out = estimate([profile])[0]
    EstimateDocument.model_validate(out)  # the documented OpenAPI shape
    return {f"{r['program']}/{r['frame']}": r for r in out["results"] if r["kind"] == "grant"}


@SETTINGS
@given(profiles())
def test_subsidy_within_cap_and_expenses(doc: dict[str, Any]) -> None:
    total = sum(e["amount_yen"] for e in doc["plan"]["expenses"] or ())
    for key, r in _grants(doc).items():
        assert 0 <= r["subsidy_yen"] <= r["cap_yen"], key
        assert r["subsidy_yen"] <= total, key
        if not r["eligible"]:
            assert r["subsidy_yen"] == 0, key
            assert any(c["passed"] is False for c in r["criteria"]), key
        else:
            assert all(c["passed"] is not False for c in r["criteria"]), key


@SETTINGS
@given(profiles())
def test_no_frame_pays_more_than_the_largest_cap_its_pages_and_jgrants_announce(doc: dict[str, Any]) -> None:
    """The 上限 a program page, the CSV and jGrants' subsidy_max_limit show for a frame (its terms on the
    day of the round that judged it) is never below what the engine pays or caps."""
    from shien.rules.registry import registry
    from shien.rules.terms import frame_terms

    rounds = {r.key: r for p in registry().programs.values() for r in p.rounds}
    for key, r in _grants(doc).items():
        judged_by = rounds[f"{key.split('/')[0]}/{r['round']['id']}"] if r["round"] else None
        moment = (judged_by.announced_at or judged_by.acceptance_start) if judged_by else None
        terms = frame_terms(key, (moment or datetime.fromisoformat(doc["as_of"])).astimezone(JST).date())
        assert terms is not None
        assert r["subsidy_yen"] <= r["cap_yen"] <= terms["max_cap_yen"], (
            key,
            r["cap_yen"],
            terms["max_cap_yen"],
        )


@SETTINGS
@given(profiles(), st.data())
def test_subsidy_is_monotone_in_expenses(doc: dict[str, Any], data: st.DataObject) -> None:
    if not doc["plan"]["expenses"]:  # None (not given) or empty
        return
    bigger = copy.deepcopy(doc)
    index = data.draw(st.integers(0, len(doc["plan"]["expenses"]) - 1))
    bigger["plan"]["expenses"][index]["amount_yen"] += data.draw(st.integers(0, 50_000_000))
    before, after = _grants(doc), _grants(bigger)
    for key in before:
        assert after[key]["subsidy_yen"] >= before[key]["subsidy_yen"], (
            key,
            before[key]["trace"],
            after[key]["trace"],
        )


@SETTINGS
@given(st.lists(profiles(with_as_of=False), min_size=2, max_size=6))
def test_one_business_on_scalars_equals_the_same_in_a_batch(docs: list[dict[str, Any]]) -> None:
    """A batch of one runs on Python scalars; it must decide exactly as the numpy batch does."""
    from shien.rules import clock

    moment = clock.now()
    records = [profile_to_record(Profile.model_validate(d)) for d in docs]
    vector = evaluate(Batch.from_records(records), moment)
    for i, record in enumerate(records):
        scalar = evaluate(Batch.from_record(record), moment)
        for o_s, o_v in zip(scalar.outcomes, vector.outcomes, strict=True):
            assert bool(o_s.eligible) == bool(o_v.eligible[i]), o_s.frame.key
            assert int(o_s.subsidy) == int(o_v.subsidy[i]), o_s.frame.key
            assert int(o_s.cap) == int(o_v.cap[i]), o_s.frame.key
            for (check, t_s), (_, t_v) in zip(o_s.checks, o_v.checks, strict=True):
                assert int(t_s) == int(t_v[i]), (o_s.frame.key, check.code)


@SETTINGS
@given(profiles())
def test_estimate_of_many_equals_estimate_of_each(doc: dict[str, Any]) -> None:
    profile = Profile.model_validate(doc)
    alone = estimate([profile])[0]
    together = estimate([profile, profile])
    assert together[0] == alone == together[1]


@SETTINGS
@given(profiles(), st.data())
def test_estimate_of_some_frames_equals_those_results_of_all(doc: dict[str, Any], data: Any) -> None:
    """An application asks only for its own frame: the same result, explanation and all."""
    profile = Profile.model_validate(doc)
    moment = datetime(2024, 6, 1, 12, 0, tzinfo=JST)
    everything = estimate([profile], as_of=moment)[0]["results"]
    keys = sorted({f"{r['program']}/{r['frame']}" for r in everything})
    chosen = set(data.draw(st.lists(st.sampled_from(keys), max_size=3)))
    some = estimate([profile], as_of=moment, frames=chosen)[0]["results"]
    assert some == [r for r in everything if f"{r['program']}/{r['frame']}" in chosen]


@SETTINGS
@given(profiles(), st.sampled_from(["ソフトウェア業", "情報処理サービス業"]), st.integers(0, 400))
def test_a_software_or_information_firm_is_small_only_up_to_five_employees(
    doc: dict[str, Any], industry: str, employees: int
) -> None:
    """小規模事業者: ソフトウェア業・情報処理サービス業 count as サービス業 (5人以下); their 政令 special case
    (3億円・300人) is for the 中小企業者 test only."""
    doc["business"].update(industry=industry, employees=employees)
    grants = _grants(doc)
    for key in ("jizokuka/tsujo", "jizokuka/chingin", "jizokuka/sogyo"):
        small = next(c["passed"] for c in grants[key]["criteria"] if c["code"] == "small_business")
        assert small is (employees <= 5), (key, employees)
    sme = next(c["passed"] for c in grants["monozukuri/kofukakachi"]["criteria"] if c["code"] == "sme")
    if employees <= 300:
        assert sme is True  # the 300人 employee test of the special case still applies


@SETTINGS
@given(profiles(), st.integers(0, 2000), st.integers(0, 2000))
def test_the_cap_never_falls_as_a_business_grows(doc: dict[str, Any], a: int, b: int) -> None:
    """Within a frame, the cap by employee band is monotone: more employees never lower it."""
    fewer, more = copy.deepcopy(doc), copy.deepcopy(doc)
    fewer["business"]["employees"], more["business"]["employees"] = min(a, b), max(a, b)
    small, big = _grants(fewer), _grants(more)
    for key in small:
        assert small[key]["cap_yen"] <= big[key]["cap_yen"], (key, min(a, b), max(a, b))
