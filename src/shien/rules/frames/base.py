"""What a frame rule produces for a whole batch, and the context it reads from.

A frame rule is a function `(ctx, frame) -> Outcome`. It computes, for every business of the batch
at once, each criterion (three-state), the cap, the rate, the subsidy, and the per-row numbers its
explanation needs. Messages are templates over those numbers, so the explanation of one business is
built from exactly the arrays that decided it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from functools import cached_property
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from shien.rules.columns import Batch
from shien.rules.registry import JST, Frame, ParamView, Program, Round, registry
from shien.rules.vec import Bools, Ints, Tri, all_passable, any_of, tri, where
from shien.rules.vocab import INDUSTRIES, PREFECTURES

T = TypeVar("T")
WAGE_GAP = (
    "判定日の所在地の地域別最低賃金が shien に未登録のため判定できません。"
    "厚生労働省「地域別最低賃金の全国一覧」で現在の額を確認してください"
)
DueKey = Literal["acceptance_end", "form4_deadline", "project_end", "report_deadline"]


@dataclass(frozen=True, slots=True)
class Check:
    """A criterion: templates for passed / failed / unknown, and the parameter it rests on."""

    code: str
    label: str
    ok: str
    ng: str
    unknown: str = ""
    source: str = ""  # a parameter name, may contain {industry} or {prefecture}


@dataclass(frozen=True, slots=True)
class Note:
    """A commitment, obligation or calculation step, shown where `when` holds (all rows if None)."""

    code: str
    text: str
    when: str | None = None  # name of a boolean fact
    after: str | None = None  # code of a check that must have passed (else the check speaks)
    due: DueKey | None = None
    source: str = ""
    kind: Literal["commit", "confirm"] = "commit"


@dataclass(slots=True)
class Outcome:
    frame: Frame
    checks: list[tuple[Check, Tri]]
    eligible: Bools
    subsidy: Ints
    cap: Ints
    rate_index: Any  # per row, or one index on scalars
    rates: tuple[tuple[Fraction, str], ...]  # (rate, why) per index
    facts: dict[str, Any]  # per-row arrays, or scalars (one business, or the same for every row)
    provisions: list[tuple[Check, Tri, Bools]] = field(default_factory=list)
    commitments: tuple[Note, ...] = ()
    obligations: tuple[Note, ...] = ()
    trace: tuple[Note, ...] = ()
    rate_detail: str = ""
    sources: tuple[str, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)  # template values shared by every row
    params: ParamView | None = None  # the parameters the frame was judged by (set by the engine)


@dataclass(slots=True)
class RoundInfo:
    round: Round | None
    accepting: bool


class Context:
    """One batch at one moment: parameters of that day, and facts shared by many frames."""

    def __init__(self, batch: Batch, as_of: datetime) -> None:
        self.batch = batch
        self.as_of = as_of
        self.day: date = as_of.date()
        self.registry = registry()
        self.params: ParamView = self.registry.at(self.day)
        self._memo: dict[str, Any] = {}
        self._rounds = rounds_at(self.as_of)
        self._rule_params: dict[str, ParamView] = {}

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Facts several frames of a program share are computed once per batch."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def round(self, program: Program, frame_id: str) -> RoundInfo:
        return self._rounds[f"{program.id}/{frame_id}"]

    def rule_params(self, frame: Frame) -> ParamView:
        """A frame is judged by the rules of its round: parameters as of the round's announcement.

        Shared facts (地域別最低賃金, 中小企業者の範囲) stay as of `as_of` (see `params`).
        """
        view = self._rule_params.get(frame.key)
        if view is None:
            r = self._rounds[frame.key].round
            moment = (r.announced_at or r.acceptance_start) if r is not None else None
            view = self.registry.at(moment.astimezone(JST).date() if moment else self.day)
            self._rule_params[frame.key] = view
        return view

    @cached_property
    def expenses_given(self) -> Bools:
        """Whether the plan's expenses were given at all (none given ≠ zero yen)."""
        return self.batch.flag("expenses_given")

    def spend(self, condition: Bools) -> Tri:
        """A criterion on the expenses: unknown (a condition to confirm) where none were given."""
        return tri(condition, self.expenses_given)

    def _by_industry(self, key: str) -> Ints:
        table = self.params.table(
            f"sme:{key}", lambda p: np.array([p[f"sme.{name}"][key] for name in INDUSTRIES], dtype=np.int64)
        )
        code = self.batch.code("industry")
        return int(table[code]) if self.batch.scalar else table[code]

    @cached_property
    def capital_max(self) -> Ints:
        return self._by_industry("capital_max_yen")

    @cached_property
    def employees_max(self) -> Ints:
        return self._by_industry("employees_max")

    @cached_property
    def small_max(self) -> Ints:
        return self._by_industry("small_employees_max")

    @cached_property
    def sme(self) -> Tri:
        """中小企業者: the capital test OR the employee test of the industry."""
        capital, known = self.batch.number("capital_yen")
        employees, _ = self.batch.number("employees")
        return any_of(tri(capital <= self.capital_max, known), tri(employees <= self.employees_max))

    @cached_property
    def small(self) -> Bools:
        """小規模事業者: employees within the industry's small-business limit."""
        employees, _ = self.batch.number("employees")
        return employees <= self.small_max

    @cached_property
    def regional_wage(self) -> tuple[Ints, Bools]:
        """地域別最低賃金 of each business's prefecture on the evaluation day, and whether it is known.

        Unknown where no prefecture was given, and where the registry holds no value for that day (a
        revision not yet entered is `null`, never the previous year's value carried forward): the
        wage criteria are then conditions to confirm.
        """
        table, known = self.params.table("minimum_wage", minimum_wage_table)
        codes = self.batch.code("prefecture")
        if self.batch.scalar:
            return int(table[codes]), bool(known[codes])
        return table[codes], known[codes]  # code -1 picks the trailing entry, unknown

    @cached_property
    def regional_gap(self) -> Bools:
        """A prefecture was given, but its 地域別最低賃金 on this day is not in the registry."""
        _, known = self.regional_wage
        given = self.batch.code("prefecture") >= 0
        return given & ~known if type(known) is np.ndarray else bool(given) and not known

    def wage_hint(self, missing_inputs: str) -> Any:
        """Why a wage criterion is unknown, per business: a registry gap, or what to enter."""
        return where(self.regional_gap, WAGE_GAP, missing_inputs)

    def shared_facts(self) -> dict[str, npt.NDArray[Any]]:
        wage, _ = self.regional_wage
        return {
            "capital_max": self.capital_max,
            "employees_max": self.employees_max,
            "small_max": self.small_max,
            "regional_wage": wage,
        }


def minimum_wage_table(params: ParamView) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Per prefecture (in `PREFECTURES` order, then one for "not given"): the wage (0 if unknown), known."""
    values = [params[f"minimum_wage.{p}"] for p in PREFECTURES] + [None]
    wages = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
    known = np.array([v is not None for v in values], dtype=np.bool_)
    return wages, known


def find_round(program: Program, frame_id: str, at: datetime) -> RoundInfo:
    """The round that applies at `at`: the open one, else the next, else an undated one, else the last."""
    dated = [r for r in program.rounds_for(frame_id) if r.acceptance_start and r.acceptance_end]
    for r in dated:
        if r.accepting(at):
            return RoundInfo(r, True)
    upcoming = [r for r in dated if r.acceptance_start and r.acceptance_start > at]
    if upcoming:
        return RoundInfo(min(upcoming, key=lambda r: r.acceptance_start or at), False)
    undated = [r for r in program.rounds_for(frame_id) if r.acceptance_start is None]
    if undated:
        return RoundInfo(undated[0], False)
    if dated:
        return RoundInfo(max(dated, key=lambda r: r.acceptance_end or at), False)
    return RoundInfo(None, False)


def decide(
    *,
    frame: Frame,
    checks: list[tuple[Check, Tri]],
    capped: Ints,
    cap: Ints,
    facts: dict[str, Any],
    **kw: Any,
) -> Outcome:
    """The one eligibility rule: eligible when no criterion failed; the subsidy is then the capped amount."""
    eligible = all_passable([t for _, t in checks])
    return Outcome(
        frame=frame,
        checks=checks,
        eligible=eligible,
        subsidy=where(eligible, capped, 0),
        cap=cap,
        facts={**facts, "capped": capped, "cap": cap},
        **kw,
    )


@functools.lru_cache(maxsize=1024)
def rounds_at(moment: datetime) -> dict[str, RoundInfo]:
    """The round that applies to every frame at one instant (the same for every business)."""
    return {
        f"{program.id}/{fid}": find_round(program, fid, moment)
        for program in registry().programs.values()
        for fid in program.frames
    }


SME = Check(
    "sme",
    "中小企業者であること",
    ok="{industry}の中小企業者（資本金{capital_max_man}以下 または 従業員{employees_max}人以下）に該当します",
    ng="{industry}では資本金{capital_max_man}以下 または 従業員{employees_max}人以下が中小企業者の要件です（資本金{capital_yen_text}・従業員{employees}人）",
    unknown="従業員数が{employees_max}人を超えるため、資本金が{capital_max_man}以下であることの確認が必要です",
    source="sme.{industry}",
)


@functools.lru_cache(maxsize=64)
def purpose_check(frame: Frame, what: str) -> Check:
    return Check(
        "purpose",
        f"{what}の取組であること",
        ok=f"計画の目的が{what}に当たります",
        ng=f"この枠は{what}の取組が対象です（計画の目的に含まれていません）",
        unknown=f"この枠は{what}の取組が対象です（計画の目的を入力すると判定できます）",
    )
