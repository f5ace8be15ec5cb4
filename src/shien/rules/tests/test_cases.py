"""Runs the policy-readable YAML cases in cases/*.yaml through `estimate`."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shien.rules.engine import estimate
from shien.rules.schema import Profile

CASES = Path(__file__).parent / "cases"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_cases(folder: Path) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file stem, case, the file's defaults) for every case of every YAML file in `folder`."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        defaults = doc.get("defaults") or {}
        out += [(path.stem, case, defaults) for case in doc["cases"]]
    return out


def _load() -> list[Any]:
    return [
        pytest.param(stem, case, defaults, id=f"{stem}: {case['name']}")
        for stem, case, defaults in load_cases(CASES)
    ]


@pytest.mark.parametrize(("program", "case", "defaults"), _load())
def test_case(program: str, case: dict[str, Any], defaults: dict[str, Any]) -> None:
    document = _merge(defaults, case["input"])
    period = case["period"]
    document["as_of"] = period.isoformat() if isinstance(period, datetime) else str(period)
    results = {
        f"{r['program']}/{r['frame']}": r for r in estimate([Profile.model_validate(document)])[0]["results"]
    }
    for key, expected in case["output"].items():
        assert key in results, f"unknown frame {key}"
        result = results[key]
        criteria = {c["code"]: c["passed"] for c in result["criteria"]}
        actual: dict[str, Any] = {
            "eligible": result["eligible"],
            "subsidy_yen": result["subsidy_yen"],
            "cap_yen": result["cap_yen"],
            "rate": result["rate"],
            "failed": sorted(code for code, passed in criteria.items() if passed is False),
            "unknown": sorted(code for code, passed in criteria.items() if passed is None),
            "provisions": {p["code"]: p["applied"] for p in result["provisions"]},
            "round": result["round"]["id"] if result["round"] else None,
            "accepting": result["round"]["accepting"] if result["round"] else None,
        }
        for field, want in expected.items():
            got = actual[field]
            if field in ("failed",):
                assert got == sorted(want), f"{key}.{field}: {got} != {sorted(want)}\n{result['criteria']}"
            elif field == "unknown":
                assert set(want) <= set(got), f"{key}.unknown: {got} lacks {want}"
            elif field == "provisions":
                for code, applied in want.items():
                    assert got.get(code, "absent") == applied, f"{key}.provisions.{code}: {got}"
            else:
                assert got == want, f"{key}.{field}: {got!r} != {want!r}\ntrace: {result['trace']}"
