"""Whatever JSON reaches `estimate`, the answer is an estimate or Japanese field errors (hypothesis).

Thrown at both entry points: `read_profiles` + `estimate` (what `shien estimate` runs, and the CLI
itself) and `POST /api/v1/estimate` through the Django test client. Inputs are arbitrary JSON values
(hypothesis `recursive`), profile-shaped documents whose every field holds arbitrary or tricky values,
and the valid example profile with one part mutated. Derandomized: the same examples on every run.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from shien.rules.columns import round_keys
from shien.rules.engine import estimate
from shien.rules.errors import DomainError
from shien.rules.examples import EXAMPLE_PROFILE
from shien.rules.output import ErrorDocument, EstimateDocument
from shien.rules.schema import Business, Commitments, Expense, Plan, Profile, read_profiles
from shien.rules.vocab import (
    EXPENSE_CODES,
    FALSE_WORDS,
    INDUSTRIES,
    INVOICE_FUNCTION_CODES,
    PREFECTURES,
    PURPOSE_CODES,
    SUCCESSION_CODES,
    TRUE_WORDS,
)
from shien.tests.test_cli import run

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
FALLBACK = (
    "入力値が正しくありません"  # the message for a pydantic error type with no Japanese text of its own
)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # deterministic in CI: the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -------------------------------------------------------------------------------------

TRICKY: list[Any] = [
    None, True, False, 0, -1, 1, 2**63, -(2**63) - 1, 10**40, 1.5, -0.0, 1e308, float("inf"), float("nan"),
    "", " ", "はい", "いいえ", "yes", "maybe", "{ }", "{0}", "{max_length}", "%s", "\ud800", "ｘ" * 300,
    "0001-01-01", "0003-12-31T23:59:59+14:00", "9999-12-31T23:59:59-23:59", "2024-02-30", "2024-03-20",
    "2024-03-20T10:00:00+09:00", "2100-12-31T23:59:59-12:00", "製造業", "広島", "machinery", "nope/1",
    "monozukuri/17", [], [1], ["nope/1"], ["labor_saving", "labor_saving"], {}, {"": None}, [[[[]]]],
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(TRICKY),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _shaped(
    model: Any,
    values: st.SearchStrategy[Any],
    required: tuple[str, ...] = (),
    **fields: st.SearchStrategy[Any],
) -> Any:
    """A dict with any of the model's fields (and now and then a stranger), each holding `values` or,
    for the fields given, mostly plausible values (so that some documents get through)."""
    chosen = {name: fields.get(name, values) for name in model.model_fields}
    shaped = st.fixed_dictionaries(
        {k: v for k, v in chosen.items() if k in required},
        optional={k: v for k, v in chosen.items() if k not in required},
    )
    strangers = st.dictionaries(
        st.sampled_from([*model.model_fields, "emploees", "\ud800"]), values, max_size=4
    )
    return st.one_of(shaped, shaped, shaped, strangers)


any_value = st.one_of(st.sampled_from(TRICKY), json_values)


def plausible(*good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(*good, *good, *good, any_value)


expenses = st.lists(
    _shaped(
        Expense,
        any_value,
        ("category", "amount_yen"),
        category=plausible(st.sampled_from(EXPENSE_CODES)),
        amount_yen=plausible(st.integers(0, 10**9)),
    )
    | any_value,
    max_size=3,
)
profile_shaped = _shaped(
    Profile,
    any_value,
    ("business",),
    as_of=plausible(st.datetimes().map(datetime.isoformat)),
    business=_shaped(
        Business,
        plausible(st.booleans(), st.sampled_from(["はい", "いいえ"])),
        ("industry", "employees"),
        industry=plausible(st.sampled_from(INDUSTRIES)),
        employees=plausible(st.integers(0, 400)),
        prefecture=plausible(st.sampled_from(PREFECTURES)),
        capital_yen=plausible(st.integers(0, 10**10)),
        founded_on=plausible(st.dates().map(date.isoformat)),
        applied_rounds=plausible(st.lists(st.sampled_from(round_keys()), max_size=3)),
    )
    | any_value,
    plan=_shaped(
        Plan,
        any_value,
        purposes=plausible(st.lists(st.sampled_from(PURPOSE_CODES), max_size=3)),
        expenses=plausible(expenses),
        commitments=_shaped(Commitments, plausible(st.booleans(), st.integers(0, 2000))) | any_value,
    )
    | any_value,
)


YES_NO = st.sampled_from(
    [*TRUE_WORDS, *FALSE_WORDS, "ＹＥＳ", " はい ", "maybe", "", 2, -1, 0.5, True, False]
)
NUMBERS = st.one_of(
    st.integers(), st.sampled_from([0, 1, -1, 5, 6, 20, 21, 300, 301, 10**12, 10**12 + 1, 2**63])
)
CODES = st.text(max_size=12)
# type-correct values at and past each field's edges, so a mutation of one field reaches its checks
EDGES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.text(max_size=120) | st.just("\ud800"),
    "as_of": st.one_of(
        st.sampled_from(["0001-01-01", "0003-12-31T23:59:59", "1999-12-31T23:59:59+09:00", "2101-01-01"]),
        st.sampled_from(["2000-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00", "9999-12-31T23:59:59"]),
        st.datetimes(timezones=st.none() | st.timezones()).map(datetime.isoformat),
        st.dates().map(date.isoformat),
    ),
    "industry": st.sampled_from(INDUSTRIES) | CODES,
    "prefecture": st.sampled_from([*PREFECTURES, "広島", "東京", "北海", "ﾋﾛｼﾏ"]) | CODES,
    "founded_on": st.dates().map(date.isoformat),
    "applied_rounds": st.lists(
        st.sampled_from([*round_keys(), "nope/1", "monozukuri/99"]) | CODES, max_size=3
    ),
    "purposes": st.lists(st.sampled_from(PURPOSE_CODES) | CODES, max_size=3),
    "succession_types": st.lists(st.sampled_from(SUCCESSION_CODES) | CODES, max_size=3),
    "invoice_functions": st.lists(st.sampled_from(INVOICE_FUNCTION_CODES) | CODES, max_size=3),
    "category": st.sampled_from(EXPENSE_CODES) | CODES,
    "description": st.text(max_size=220),
    "value_added_cagr_pct": st.decimals(places=3).map(str) | st.floats(),
    "payroll_cagr_pct": st.decimals(places=3).map(str) | st.floats(),
    "expenses": st.lists(
        st.fixed_dictionaries({"category": st.sampled_from(EXPENSE_CODES), "amount_yen": NUMBERS}), max_size=5
    ),
}
PLACES: dict[str, tuple[Any, ...]] = {
    **{name: () for name in Profile.model_fields},
    **{name: ("business",) for name in Business.model_fields},
    **{name: ("plan",) for name in Plan.model_fields},
    **{name: ("plan", "commitments") for name in Commitments.model_fields},
    **{name: ("plan", "expenses", 0) for name in Expense.model_fields},
}
KINDS = {
    model.__name__ + "." + name: info.annotation
    for model in (Profile, Business, Plan, Commitments, Expense)
    for name, info in model.model_fields.items()
}


def _edge(name: str) -> st.SearchStrategy[Any]:
    if name in EDGES:
        return EDGES[name]
    annotation = str(next(v for k, v in KINDS.items() if k.endswith("." + name)))
    return YES_NO if "bool" in annotation else NUMBERS


@st.composite
def mutated_profiles(draw: st.DrawFn) -> Any:
    """The valid example with one to three fields set to an edge value, any JSON value, or removed."""
    doc = copy.deepcopy(EXAMPLE_PROFILE)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(PLACES)))
        parent: Any = doc
        for part in PLACES[name]:
            if isinstance(parent, dict):
                parent = parent.setdefault(part, {} if isinstance(part, str) else [])
            elif isinstance(parent, list) and parent:
                parent = parent[0]
        if not isinstance(parent, dict):
            continue
        action = draw(st.sampled_from(["edge", "edge", "edge", "any", "delete"]))
        if action == "delete":
            parent.pop(name, None)
        else:
            parent[name] = draw(_edge(name) if action == "edge" else any_value)
    return doc


documents = st.one_of(
    json_values, profile_shaped, mutated_profiles(), st.lists(mutated_profiles(), max_size=3)
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).replace("\ud800", "\\ud800")


# -- the property -----------------------------------------------------------------------------------


def check_errors(body: dict[str, Any]) -> None:
    """A documented ErrorDocument whose messages are Japanese, each naming its field."""
    error = ErrorDocument.model_validate(body)
    assert JAPANESE.search(error.message), body
    for field_error in error.errors:
        assert JAPANESE.search(field_error.message), body
        assert field_error.message != FALLBACK, body  # every kind of mistake has its own words
        assert field_error.field, body


def check_estimates(documents: Any, single: bool) -> None:
    items = [documents] if single else documents
    assert isinstance(items, list)
    for document in items:
        EstimateDocument.model_validate(document)
    json.dumps(documents, ensure_ascii=False).encode("utf-8")  # can be written out as UTF-8


def check_python(text: str, *, json_lines: bool | None) -> None:
    try:
        profiles, single = read_profiles(text, json_lines=json_lines)
    except DomainError as exc:
        check_errors(exc.as_dict())
        return
    result = estimate(profiles)
    check_estimates(result[0] if single else result, single)


@SETTINGS
@given(documents)
def test_estimate_entry_point_answers_or_explains(document: Any) -> None:
    text = _dumps(document)
    check_python(text, json_lines=None)
    code, out, err = run(["estimate", "-", "--json"], text)
    assert code in (0, 2), err
    if code == 0:
        json.loads(out)
        assert "エラー" not in err and "Traceback" not in err, err  # a notice at most (no open round)
    else:
        assert out == "" and err.startswith("エラー: ") and JAPANESE.search(err)


@SETTINGS
@given(st.lists(documents, min_size=1, max_size=4), st.sampled_from(["\n", "\n\n", "\r\n"]))
def test_json_lines_answer_or_explain(lines: list[Any], newline: str) -> None:
    check_python(newline.join(_dumps(d) for d in lines), json_lines=True)


@pytest.mark.django_db
@SETTINGS
@given(documents, st.sampled_from(["application/json", "application/x-ndjson"]))
def test_http_estimate_is_200_or_documented_422(document: Any, content_type: str) -> None:
    body = _dumps(document)
    response = Client().post("/api/v1/estimate", data=body, content_type=content_type)
    assert response.status_code in (200, 422), response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    if response.status_code == 422:
        check_errors(response.json())
    else:
        single = content_type == "application/json" and isinstance(document, dict)
        check_estimates(response.json(), single)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON reader's recursion limit
        '{"business": ' * 5_000 + "1" + "}" * 5_000,
        "\ufeff" + json.dumps(EXAMPLE_PROFILE),
        "NaN",
        '{"business": {"industry": "製造業", "employees": 1}}\n{',
        # longer than Python's integer-string limit (4,300 digits): ValueError, not JSONDecodeError
        '{"business": {"industry": "製造業", "employees": ' + "9" * 5_000 + "}}",
    ],
)
def test_odd_texts(text: str) -> None:
    check_python(text, json_lines=None)
    check_python(text, json_lines=True)
    check_python(text, json_lines=False)


def test_the_strategies_reach_both_answers() -> None:
    """Generated documents are neither all valid nor all rejected: both paths are exercised."""

    def valid(doc: Any) -> bool:
        try:
            read_profiles(_dumps(doc))
        except DomainError:
            return False
        return True

    quick = settings(derandomize=True, database=None, max_examples=500)
    assert valid(find(mutated_profiles(), valid, settings=quick))
    assert not valid(find(mutated_profiles(), lambda d: not valid(d), settings=quick))
    assert valid(find(profile_shaped, valid, settings=quick))
