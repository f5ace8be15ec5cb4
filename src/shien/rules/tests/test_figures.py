"""No figure is written into a frame's text: every number people read comes from a parameter.

Renders every grant frame's terms (`rules.terms.frame_terms`) and every message `estimate` writes
(criteria, provisions, conditions, obligations, the calculation, the rate detail) for the inputs and
dates of the policy cases (cases/*.yaml), extracts every number from the Japanese text, and checks
that each one is, after unit conversion (億・万円 → 円, % → a fraction, 年 ↔ か月), one of the values
below. The texts are rendered from a registry whose every figure was changed (each integer n becomes
100 + n below 100 and
1000·n + 1 above, each fraction r becomes 7r/8): a text that formats its figure from the parameter follows
the change, one with the figure typed in does not, even where the typed figure happens to equal a
parameter (「3〜5年」 next to plan_years 3 and 5). The values a figure may be:

- a value of a parameter in force on a day the text may be judged by (the evaluation day, and the
  announcement or opening day of any round), from `parameters/*.yaml`;
- a figure of a round in the YAML: its name as written (「17次公募」), its dates (as `rules.text`
  writes them, with the 17:00 of a deadline);
- for `estimate`, a figure of that business: its input, or a per-row fact the frame computed from
  the input and the parameters (the expenses, the computed subsidy, the cap of its band, …).

The values a frame passes as `constants` (shared by every row) are not facts: they must be
parameters. So a figure typed into a template, into an f-string or into a constant fails here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import pytest

from shien.rules.columns import Batch, profile_to_record
from shien.rules.engine import base_values, evaluate, explain, grant_frames
from shien.rules.registry import JST, Registry, registry
from shien.rules.schema import Profile
from shien.rules.terms import frame_terms
from shien.rules.tests.test_cases import _load, _merge

# Figures that are not rules, each with its reason. Matched on the text as written.
ALLOWED = {
    "17:00": "the 17:00 of a deadline is the time of day of a round's acceptance_end (YAML), as written",
    "様式4": "the name of a form (事業支援計画書 様式4), not a figure",
    "1者あたり": "per member: the unit of a limit that scales with the members (× 構成員数), not a figure",
}
ALLOWED_RE = re.compile("|".join(re.escape(a) for a in ALLOWED))
# dates as `rules.text` writes them (令和6年3月27日(水), 2024-03-27, 2024年3月): they come from a round's
# fields in the YAML (the dues), so they are left out here
DATES = re.compile(
    r"(?:令和|平成)(?:\d+|元)年\d+月(?:\d+日)?(?:\([月火水木金土日]\))?|\d{4}-\d{2}-\d{2}|\d{4}年\d+月(?:\d+日)?"
)
NUMBER = re.compile(
    r"(?P<oku>\d[\d,]*)億(?:(?P<oku_man>\d[\d,]*)万)?"
    r"|(?P<num>\d[\d,]*(?:\.\d+)?)(?:/(?P<den>\d+))?\s*(?P<unit>万|%|％|年|か月)?"
)
FRACTION = re.compile(r"^\d+/\d+$")
FULLWIDTH = str.maketrans("０１２３４５６７８９，．／", "0123456789,./")


def numbers(text: str) -> Iterator[tuple[str, Fraction, str]]:
    """(as written, value, unit) for every number in `text`, dates and allowed figures left out."""
    text = ALLOWED_RE.sub(" ", DATES.sub(" ", text.translate(FULLWIDTH)))
    for m in NUMBER.finditer(text):
        if m["oku"]:
            value = Fraction(int(m["oku"].replace(",", "")) * 100_000_000)
            value += int((m["oku_man"] or "0").replace(",", "")) * 10_000
            yield m[0], value, "円"
            continue
        value = Fraction(m["num"].replace(",", ""))
        if m["den"]:
            value /= int(m["den"])
        unit = m["unit"] or ""
        if unit == "万":
            value *= 10_000
        elif unit in ("%", "％"):
            value /= 100
        yield m[0], value, unit


def _flatten(value: Any) -> Iterator[Fraction]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | Fraction):
        yield Fraction(value)
    elif isinstance(value, float):
        yield Fraction(repr(value))  # as written (1.49), not the binary float
    elif isinstance(value, str):
        if FRACTION.match(value):  # a rate ("2/3"); other strings are text, not figures
            yield Fraction(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item)
            # a band's label starts one above the previous band's maximum (5人以下 → 6〜20人), and a
            # band of processes ends one below the next band's minimum (1〜3 → 4プロセス以上)
            if key == "max_employees" and isinstance(item, int):
                yield Fraction(item + 1)
            if key == "min_processes" and isinstance(item, int):
                yield Fraction(item - 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, np.ndarray | np.generic):
        yield from _flatten(value.tolist())


def _mutate(value: Any) -> Any:
    """Every figure changed, its shape kept: r → 7r/8 (still ≤ 1), n → 100 + n below 100 (years,
    months and counts stay usable in date arithmetic), 1000·n + 1 from 100 on (order kept)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return 100 + value if 0 <= value < 100 else 1000 * value + 1
    if isinstance(value, str) and FRACTION.match(value):
        changed = Fraction(value) * Fraction(7, 8)
        return f"{changed.numerator}/{changed.denominator}"
    if isinstance(value, dict):
        return {k: _mutate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(v) for v in value]
    return value


@pytest.fixture(autouse=True)
def mutated() -> Iterator[Registry]:
    """The process's registry with every parameter's figures changed, for the test's duration."""
    reg = registry()
    saved = reg.parameters
    reg.parameters = {
        name: dataclasses.replace(
            p, entries=tuple(dataclasses.replace(e, value=_mutate(e.value)) for e in p.entries)
        )
        for name, p in saved.items()
    }
    Registry.at.cache_clear()
    parameter_figures.cache_clear()
    try:
        yield reg
    finally:
        reg.parameters = saved
        Registry.at.cache_clear()
        parameter_figures.cache_clear()


@cache
def rule_days() -> tuple[date, ...]:
    days = set()
    for program in registry().programs.values():
        for r in program.rounds:
            for moment in (r.announced_at, r.acceptance_start):
                if moment is not None:
                    days.add(moment.astimezone(JST).date())
    return tuple(sorted(days))


@cache
def round_names() -> re.Pattern[str]:
    """Every round's name as the YAML writes it (「17次公募（全枠）」): its figures are the round's."""
    names = {r.name for program in registry().programs.values() for r in program.rounds}
    return re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))


@cache
def parameter_figures(day: date) -> frozenset[Fraction]:
    """Every figure of every parameter in force on `day` or on a day a round's rules are read."""
    reg = registry()
    out: set[Fraction] = set()
    for d in (day, *rule_days()):
        view = reg.at(d)
        for entry in view.entries.values():
            out.update(_flatten(entry.value))
    return frozenset(out)


def stray(texts: Iterable[str], allowed: frozenset[Fraction] | set[Fraction]) -> list[str]:
    """The figures of `texts` that are not in `allowed` (a year may be written as its months)."""
    out = []
    for text in texts:
        for written, value, unit in numbers(round_names().sub(" ", text)):
            if value in allowed or (unit == "年" and value * 12 in allowed):
                continue
            out.append(f"{written!r} in {text!r}")
    return out


def _cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for param in _load():
        program, case, defaults = param.values
        document = _merge(defaults, case["input"])
        period = case["period"]
        document["as_of"] = period.isoformat() if isinstance(period, datetime) else str(period)
        out.append((f"{program}: {case['name']}", document))
    return out


CASES = _cases()
DAYS = sorted({Profile.model_validate(doc).as_of.astimezone(JST).date() for _, doc in CASES})  # type: ignore[union-attr]


def terms_texts(terms: dict[str, Any]) -> Iterator[str]:
    yield from (row["employees"] for row in terms["caps"]["rows"])
    if terms["caps"].get("special_label"):
        yield terms["caps"]["special_label"]
    yield from (row["who"] for row in terms["rates"]["rows"])
    yield from (row["rate"] for row in terms["rates"]["rows"])
    yield from terms["rates"]["tiers"]
    for provision in terms["provisions"]:
        yield provision["name"]
        yield provision["text"]
    yield from terms["requirements"]


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_frame_terms_hold_only_parameters(day: date) -> None:
    allowed = parameter_figures(day)
    found = []
    for key in grant_frames():
        terms = frame_terms(key, day)
        assert terms is not None
        found += [f"{key}: {s}" for s in stray(terms_texts(terms), allowed)]
    assert not found, "figures in terms that are not parameters:\n" + "\n".join(found)


def result_texts(result: dict[str, Any]) -> Iterator[str]:
    for criterion in result["criteria"]:
        yield criterion["label"]
        yield criterion["message"]
    for provision in result["provisions"]:
        yield provision["label"]
        yield provision["message"]
    yield from (c["message"] for c in result["conditions"])
    yield from (o["message"] for o in result["obligations"])
    yield from result["trace"]
    if result["rate_detail"]:
        yield result["rate_detail"]


@pytest.mark.parametrize(("name", "document"), CASES, ids=[name for name, _ in CASES])
def test_estimate_messages_hold_only_parameters_and_the_business(name: str, document: dict[str, Any]) -> None:
    profile = Profile.model_validate(document)
    assert profile.as_of is not None
    moment = profile.as_of.astimezone(JST)
    record = profile_to_record(profile)
    batch = Batch.from_record(record)
    ev = evaluate(batch, moment)
    row = base_values(ev, 0, batch.row(0))
    given = set(_flatten(document)) | set(_flatten([v for v in row.values() if not isinstance(v, str)]))
    business = given | {v / 100 for v in given}  # percentages are entered as numbers (1.5 for 1.5%)
    found = []
    for outcome in ev.outcomes:
        facts = set(_flatten([v for v in outcome.facts.values() if not isinstance(v, str)]))
        allowed = parameter_figures(moment.date()) | business | facts
        result = explain(ev, outcome, 0, row)
        found += [f"{outcome.frame.key}: {s}" for s in stray(result_texts(result), allowed)]
    assert not found, "figures in messages that are neither parameters nor the business's:\n" + "\n".join(
        found
    )


def test_a_typed_figure_fails() -> None:
    """The check itself: a figure no parameter holds is reported, a parameter's is not."""
    allowed = parameter_figures(date(2024, 3, 20))
    # 1/3 → 7/24, 100万円 → 1,000,000,001円, 1.5% (3/200) → 21/1600 = 1.3125%, 5年 → 105年
    assert stray(["補助率7/24、下限額1,000,000,001円、年平均1.3125%以上、105年間"], allowed) == []
    assert stray(["補助率1/3"], allowed) == ["'1/3' in '補助率1/3'"]
    assert stray(["上限100万円"], allowed) == ["'100万' in '上限100万円'"]
    assert stray(["締切 令和6年3月27日(水) 17:00（2024-03-27）"], allowed) == []
