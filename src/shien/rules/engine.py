"""The evaluation: every frame of every program for a batch of businesses at one moment.

`evaluate` runs each frame rule once over the whole batch (numpy columns); `explain` turns one row
of those arrays into the full result a person reads. `estimate` (JSON profiles) and `screen`
(CSV/Parquet populations) both go through `evaluate`, so they cannot disagree.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shien.rules import clock
from shien.rules.columns import Batch, profile_to_record
from shien.rules.frames import RULES
from shien.rules.frames.base import Context, Note, Outcome, RoundInfo
from shien.rules.registry import JST, Entry, ParamView, Program, Round, registry
from shien.rules.text import man_yen
from shien.rules.text import rate as rate_text
from shien.rules.vec import FAIL, PASS, UNKNOWN

if TYPE_CHECKING:
    from shien.rules.schema import Profile


@functools.cache
def grant_frames() -> tuple[str, ...]:
    """Keys of every grant frame, in the registry's order (programs by the seed's order)."""
    keys = tuple(f"{p.id}/{f}" for p in registry().programs.values() if p.kind == "grant" for f in p.frames)
    missing = [k for k in keys if k not in RULES]
    if missing:
        raise RuntimeError(f"frames without a rule: {missing}")
    return keys


@dataclass(slots=True)
class Evaluation:
    """The arrays of every grant frame for one batch at one moment."""

    ctx: Context
    outcomes: list[Outcome]
    rounds: dict[str, RoundInfo]
    sources: dict[tuple[date, str], Entry | None] = field(default_factory=dict)  # explain's lookup cache


def evaluate(batch: Batch, as_of: datetime) -> Evaluation:
    ctx = Context(batch, as_of.astimezone(JST))
    reg = ctx.registry
    outcomes = []
    for key in grant_frames():
        frame = reg.frame(key)
        outcome = RULES[key](ctx, frame)
        outcome.params = ctx.rule_params(frame)
        outcomes.append(outcome)
    return Evaluation(ctx, outcomes, ctx._rounds)


# -- explanation of one row ------------------------------------------------------------------------


class _Missing:
    """Stands for a fact that was not given, whatever the format spec asks for."""

    def __format__(self, spec: str) -> str:
        return "未入力"


MISSING = _Missing()


class _Row(dict[str, Any]):
    """Template values for one business and one frame, as a plain dict so formatting stays in C."""

    __slots__ = ("ev", "params", "day")
    ev: Evaluation
    params: ParamView
    day: date

    def __missing__(self, name: str) -> Any:
        raise KeyError(f"template value {name!r} is not defined")


def _row_values(ev: Evaluation, outcome: Outcome, i: int, base: dict[str, Any], rate_index: int) -> _Row:
    values = _Row(base)
    values.ev = ev
    values.params = outcome.params or ev.ctx.params
    values.day = values.params.day
    values.update(outcome.constants)
    for name, column in outcome.facts.items():
        value = column[i].item() if type(column) is np.ndarray else column
        if name.endswith("_pct"):
            value = f"{value / 100:g}"
        values[name] = value
    rate_value, reason = outcome.rates[rate_index]
    values["frame_name"] = outcome.frame.name
    values["rate"] = rate_text(rate_value)
    values["rate_reason"] = reason
    if "wage_target" in outcome.facts:
        values["wage_target_text"] = (
            f"{values['wage_target']:,}円以上"
            if base["_regional_known"]
            else "所在地の地域別最低賃金により決まる額"
        )
    return values


def base_values(ev: Evaluation, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """What every frame's templates may use about business `i`: its input and the shared facts."""
    ctx = ev.ctx
    out = {name: MISSING if value is None else value for name, value in row.items()}
    for name, column in ctx.shared_facts().items():
        out[name] = int(_at(column, i))
    out["capital_max_man"] = man_yen(int(_at(ctx.capital_max, i)))
    capital = row.get("capital_yen")
    out["capital_yen_text"] = "未入力" if capital is None else man_yen(capital)
    out["_regional_known"] = bool(_at(ctx.regional_wage[1], i))
    return out


def _text(template: str, row: _Row) -> str:
    return template.format_map(row) if "{" in template else template


SHARED_PREFIXES = ("sme.", "minimum_wage.")


def _source(template: str, row: _Row, cache: dict[tuple[date, str], Entry | None]) -> Entry | None:
    """The parameter entry a message rests on; templates like sme.{industry} resolve per business.

    Shared facts are as of `as_of`; a program's own parameters as of its round (`outcome.params`).
    """
    if not template:
        return None
    name = template.format_map(row) if "{" in template else template
    key = (row.day, name)
    if key not in cache:
        view = row.ev.ctx.params if name.startswith(SHARED_PREFIXES) else row.params
        cache[key] = view.entries.get(name)
    return cache[key]


def _iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(JST).isoformat()
    return value.isoformat()


def _due(note: Note, info: RoundInfo) -> str | None:
    if note.due is None or info.round is None:
        return None
    return _iso(getattr(info.round, note.due))


def round_dict(info: RoundInfo) -> dict[str, Any] | None:
    return _round_dict(info.round, info.accepting)


@functools.lru_cache(maxsize=1024)
def _round_dict(r: Round | None, accepting: bool) -> dict[str, Any] | None:
    """Built once per round and state; treat as read-only."""
    if r is None:
        return None
    out: dict[str, Any] = {
        "id": r.id,
        "name": r.name,
        "accepting": accepting,
        "acceptance_start": _iso(r.acceptance_start),
        "acceptance_end": _iso(r.acceptance_end),
        "status": r.status,
        "reference": r.reference.title,
    }
    if r.note:
        out["note"] = r.note
    if r.project_end:
        out["project_end"] = _iso(r.project_end)
    return out


def _contact(program: Program) -> dict[str, Any]:
    return program.contact


def _unverified(entries: Iterable[Entry | None], rnd: Round | None) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e is not None and e.unverified and e.name not in out:
            out[e.name] = {"parameter": e.name, "note": e.note, "reference": e.reference.title}
    if rnd is not None and rnd.status == "unverified":
        out[rnd.key] = {"parameter": f"round:{rnd.key}", "note": rnd.note, "reference": rnd.reference.title}
    return list(out.values())


def explain(ev: Evaluation, outcome: Outcome, i: int, row: dict[str, Any]) -> dict[str, Any]:
    """The full, readable result of one frame for business `i` (`row`: from `base_values`)."""
    frame = outcome.frame
    program = ev.ctx.registry.programs[frame.program]
    info = ev.rounds[frame.key]
    vector = not ev.ctx.batch.scalar
    rate_index = int(outcome.rate_index[i] if vector else outcome.rate_index)
    r = _row_values(ev, outcome, i, row, rate_index)
    cache = ev.sources
    text = _text
    used: list[Entry | None] = [_source(s, r, cache) for s in outcome.sources]
    if "wage_target" in outcome.facts:  # the frame judges wages against the 地域別最低賃金 of that day
        used.append(_source("minimum_wage.{prefecture}", r, cache))
    criteria = []
    conditions = []
    states: dict[str, int] = {}
    for check, values in outcome.checks:
        value = int(values[i] if vector else values)
        states[check.code] = value
        entry = _source(check.source, r, cache)
        used.append(entry)
        message = text(check.ok if value == PASS else check.ng if value == FAIL else check.unknown, r)
        criteria.append(
            {
                "code": check.code,
                "label": text(check.label, r),
                "passed": _STATE[value],
                "message": message,
                "source": entry.source() if entry else None,
            }
        )
        if value == UNKNOWN:
            conditions.append({"code": check.code, "kind": "confirm", "message": message, "due": None})
    provisions = []
    for check, values, shown in outcome.provisions:
        if not (shown[i] if type(shown) is np.ndarray else shown):
            continue
        value = int(values[i] if type(values) is np.ndarray else values)
        used.append(_source(check.source, r, cache))
        provision_message = text(
            check.ok if value == PASS else check.ng if value == FAIL else check.unknown, r
        )
        if value == UNKNOWN:  # an unknown fact that decides a provision is a condition to confirm
            conditions.append(
                {"code": check.code, "kind": "confirm", "message": provision_message, "due": None}
            )
        provisions.append(
            {
                "code": check.code,
                "label": text(check.label, r),
                "applied": _STATE[value],
                "message": text(
                    check.ok if value == PASS else check.ng if value == FAIL else check.unknown, r
                ),
            }
        )
    eligible = bool(outcome.eligible[i] if vector else outcome.eligible)
    facts = outcome.facts
    # commitments and obligations belong to frames the business can apply for
    obligations = []
    if eligible:
        for note in outcome.commitments:
            if _shown(note, facts, i, states):
                used.append(_source(note.source, r, cache))
                conditions.append(
                    {
                        "code": note.code,
                        "kind": "commit",
                        "message": text(note.text, r),
                        "due": _due(note, info),
                    }
                )
        for note in outcome.obligations:
            if _shown(note, facts, i, states):
                entry = _source(note.source, r, cache)
                used.append(entry)
                obligations.append(
                    {
                        "code": note.code,
                        "message": text(note.text, r),
                        "due": _due(note, info),
                        "source": entry.source() if entry else None,
                    }
                )
    # the calculation is shown for frames the business can apply for; for the others, the reasons are
    trace = (
        [text(note.text, r) for note in outcome.trace if _shown(note, facts, i, states)] if eligible else []
    )
    return {
        "program": frame.program,
        "frame": frame.id,
        "program_name": program.short_name,
        "frame_name": frame.name,
        "kind": "grant",
        "eligible": eligible,
        "subsidy_yen": int(outcome.subsidy[i] if vector else outcome.subsidy),
        "cap_yen": int(outcome.cap[i] if vector else outcome.cap),
        "rate": r["rate"],
        "rate_detail": outcome.rate_detail or None,
        "criteria": criteria,
        "provisions": provisions,
        "conditions": conditions,
        "obligations": obligations,
        "trace": trace,
        "round": round_dict(info),
        "contact": _contact(program),
        "unverified": _unverified(used, info.round),
    }


_STATE: dict[int, bool | None] = {2: True, 0: False, 1: None}  # PASS, FAIL, UNKNOWN


def _at(values: Any, i: int) -> Any:
    """Row i of a column, or the value itself on scalars."""
    return values[i] if type(values) is np.ndarray else values


def _shown(note: Note, facts: dict[str, Any], i: int, states: dict[str, int]) -> bool:
    if note.when is not None and not _at(facts[note.when], i):
        return False
    return note.after is None or states.get(note.after, PASS) == PASS


def non_grant_results(ev: Evaluation) -> list[dict[str, Any]]:
    """The programs that are not grants: who can take part and how (the same for every business)."""
    out = []
    for program in ev.ctx.registry.programs.values():
        if program.kind != "non_grant":
            continue
        for fid, frame in program.frames.items():
            info = ev.rounds[f"{program.id}/{fid}"]
            out.append(
                {
                    "program": program.id,
                    "frame": fid,
                    "program_name": program.short_name,
                    "frame_name": frame.name,
                    "kind": "non_grant",
                    "eligible": True,
                    "subsidy_yen": None,
                    "cap_yen": None,
                    "rate": None,
                    "rate_detail": None,
                    "criteria": [
                        {
                            "code": "participation",
                            "label": "参加できる人",
                            "passed": True,
                            "message": program.participation or "",
                            "source": {
                                "reference": program.reference.title,
                                "url": program.reference.url,
                                "status": "verified",
                            },
                        }
                    ],
                    "provisions": [],
                    "conditions": [
                        {
                            "code": "how_to_apply",
                            "kind": "commit",
                            "message": program.how_to_apply,
                            "due": None,
                        }
                    ],
                    "obligations": [],
                    "trace": [frame.summary],
                    "round": round_dict(info),
                    "contact": _contact(program),
                    "unverified": _unverified([], info.round),
                }
            )
    return out


# -- the two entry points ----------------------------------------------------------------------------


def estimate(
    profiles: list[Profile], *, as_of: datetime | None = None, frames: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """One result document per profile, in input order. `as_of` overrides each profile's own.
    `frames` ("program/frame" keys) keeps only those results (an application needs its own frame's)."""
    fallback = clock.now()
    groups: dict[datetime, list[int]] = {}
    moments = [(as_of or p.as_of or fallback).astimezone(JST) for p in profiles]
    for index, moment in enumerate(moments):
        groups.setdefault(moment, []).append(index)
    out: list[dict[str, Any] | None] = [None] * len(profiles)
    for moment, indexes in groups.items():
        records = [profile_to_record(profiles[i]) for i in indexes]
        batch = Batch.from_record(records[0]) if len(records) == 1 else Batch.from_records(records)
        ev = evaluate(batch, moment)
        shared = non_grant_results(ev)
        outcomes = ev.outcomes
        if frames is not None:
            shared = [r for r in shared if f"{r['program']}/{r['frame']}" in frames]
            outcomes = [o for o in outcomes if o.frame.key in frames]
        for row_index, profile_index in enumerate(indexes):
            row = base_values(ev, row_index, batch.row(row_index))
            results = [explain(ev, o, row_index, row) for o in outcomes]
            results.extend(shared)
            profile = profiles[profile_index]
            document: dict[str, Any] = {"as_of": moment.isoformat(), "results": results}
            if profile.id is not None:
                document = {"id": profile.id, **document}
            out[profile_index] = document
    return [d for d in out if d is not None]


def screen_columns(ev: Evaluation) -> dict[str, np.ndarray]:
    """Per frame: eligible (bool), subsidy (int64 yen), cap (int64 yen) — the `screen` output."""
    out: dict[str, np.ndarray] = {}
    for o in ev.outcomes:
        key = f"{o.frame.program}.{o.frame.id}"
        out[f"{key}.eligible"] = o.eligible
        out[f"{key}.subsidy_yen"] = o.subsidy
        out[f"{key}.cap_yen"] = o.cap
    return out


def warm_up() -> None:
    """Load the registry and fill the caches once, then freeze what lives for the whole process.

    Frozen objects (registry, modules, caches) are no longer scanned by the garbage collector, and
    stay shared between forked server workers.
    """
    import gc

    from shien.rules.schema import Profile

    registry()
    sample = Profile.model_validate(
        {
            "business": {"industry": "製造業", "employees": 10, "prefecture": "広島県"},
            "plan": {"purposes": ["labor_saving"], "expenses": [{"category": "machinery", "amount_yen": 1}]},
        }
    )
    estimate([sample])
    estimate([sample, sample])
    gc.collect()
    gc.freeze()
