"""The flat, columnar form of a profile, and the `Batch` the rules evaluate.

One row per business, one column per fact: this is both the CSV/Parquet format of `shien screen`
and what a JSON profile is flattened to for `shien estimate`, so the two meet in one `Batch` and
one evaluation. Each column has a kind:

- int / date / pct: int64 values with a `known` mask (date: days since 1970-01-01; pct: 1/100 %)
- tri: a yes/no fact that may be unknown (int8 FAIL/UNKNOWN/PASS)
- flag: a choice that defaults to no (int8 FAIL/PASS)
- enum: int16 code into a vocabulary, -1 where unknown
- set: int64 bit mask over a vocabulary, with a `known` mask
- yen: int64 expense amount per category, 0 where absent
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt

from shien.rules.registry import registry
from shien.rules.vec import FAIL, PASS, UNKNOWN, Bools, Ints, Tri, tri
from shien.rules.vocab import (
    EXPENSE_CODES,
    INDUSTRIES,
    INVOICE_FUNCTION_CODES,
    MAX_YEN,
    PREFECTURES,
    PURPOSE_CODES,
    SUCCESSION_CODES,
    normalize_prefecture,
)

if TYPE_CHECKING:
    from shien.rules.schema import Profile

Kind = Literal["int", "date", "pct", "tri", "flag", "enum", "set", "yen"]
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def round_keys() -> tuple[str, ...]:
    return tuple(r.key for p in registry().programs.values() for r in p.rounds)


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    label: str
    required: bool = False
    vocab: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None


def _expense_columns() -> tuple[Column, ...]:
    from shien.rules.vocab import EXPENSE_CATEGORIES

    return tuple(
        Column(f"expense_{code}", "yen", f"経費: {label}", low=0, high=MAX_YEN)
        for code, label in EXPENSE_CATEGORIES.items()
    )


COLUMNS: Final[tuple[Column, ...]] = (
    Column("industry", "enum", "業種", required=True, vocab=INDUSTRIES),
    Column("prefecture", "enum", "所在地（都道府県）", vocab=PREFECTURES),
    Column("employees", "int", "常時使用する従業員数", required=True, low=0, high=1_000_000),
    Column("capital_yen", "int", "資本金（円）", low=0, high=MAX_YEN),
    Column("min_hourly_wage_yen", "int", "事業場内最低賃金（時間額・円）", low=1, high=100_000),
    Column("deficit", "tri", "赤字"),
    Column("was_tax_exempt", "tri", "免税事業者であった"),
    Column("invoice_registered", "tri", "適格請求書発行事業者の登録"),
    Column("revitalization", "tri", "再生事業者"),
    Column("operating_margin_decline", "tri", "営業利益率の低下"),
    Column("labor_shortage", "tri", "人手不足の状態"),
    Column("atotsugi_finalist", "tri", "アトツギ甲子園のファイナリスト等"),
    Column("tokutei_sogyo_support", "tri", "特定創業支援等事業による支援"),
    Column("founded_on", "date", "創業日・設立日"),
    Column("applied_rounds", "set", "申請済みの公募回", vocab=round_keys()),
    Column("purposes", "set", "取組の目的", vocab=PURPOSE_CODES),
    Column("succession_types", "set", "事業承継の類型", vocab=SUCCESSION_CODES),
    Column("consortium_members", "int", "連携する事業者数", low=1, high=100_000),
    Column("software_processes", "int", "ITツールの業務プロセス数", low=1, high=50),
    Column("invoice_functions", "set", "インボイス対応の機能", vocab=INVOICE_FUNCTION_CODES),
    Column("wage_increase_special", "flag", "賃上げの特例を選択"),
    Column("covid_recovery_special", "flag", "新型コロナ回復加速化特例を選択"),
    Column("expenses_given", "flag", "経費が入力されている（空欄の列だけなら「0円」ではなく「未入力」）"),
    Column(
        "planned_min_hourly_wage_yen", "int", "計画する事業場内最低賃金（時間額・円）", low=1, high=100_000
    ),
    Column("planned_employees", "int", "事業終了時の従業員数の計画", low=0, high=1_000_000),
    Column("value_added_cagr_pct", "pct", "付加価値額の年平均成長率の計画（%）", low=-10_000, high=100_000),
    Column("payroll_cagr_pct", "pct", "給与支給総額の年平均成長率の計画（%）", low=-10_000, high=100_000),
) + _expense_columns()

BY_NAME: Final[dict[str, Column]] = {c.name: c for c in COLUMNS}
_INDEX: Final[dict[str, dict[str, int]]] = {
    c.name: {v: i for i, v in enumerate(c.vocab)} for c in COLUMNS if c.kind in ("enum", "set")
}
SET_SPLIT: Final = re.compile(r"[\s,|、，]+")  # not "/": round keys are program/round


def profile_to_record(profile: Profile) -> dict[str, Any]:
    """Flatten a validated profile into one row of the column format (None = not given)."""
    b, plan = profile.business, profile.plan
    c = plan.commitments
    expenses: dict[str, int] = {}
    processes: int | None = None
    functions: set[str] | None = None
    for e in plan.expenses or ():
        expenses[e.category] = expenses.get(e.category, 0) + e.amount_yen
        if e.processes is not None:
            processes = max(processes or 0, e.processes)
        if e.invoice_functions is not None:
            functions = (functions or set()) | set(e.invoice_functions)
    record: dict[str, Any] = {
        "industry": b.industry,
        "prefecture": b.prefecture,
        "employees": b.employees,
        "capital_yen": b.capital_yen,
        "min_hourly_wage_yen": b.min_hourly_wage_yen,
        "deficit": b.deficit,
        "was_tax_exempt": b.was_tax_exempt,
        "invoice_registered": b.invoice_registered,
        "revitalization": b.revitalization,
        "operating_margin_decline": b.operating_margin_decline,
        "labor_shortage": b.labor_shortage,
        "atotsugi_finalist": b.atotsugi_finalist,
        "tokutei_sogyo_support": b.tokutei_sogyo_support,
        "founded_on": b.founded_on,
        "applied_rounds": b.applied_rounds,
        "purposes": plan.purposes,
        "succession_types": plan.succession_types,
        "consortium_members": plan.consortium_members,
        "software_processes": processes,
        "invoice_functions": sorted(functions) if functions is not None else None,
        "wage_increase_special": c.wage_increase_special,
        "covid_recovery_special": c.covid_recovery_special,
        "expenses_given": plan.expenses is not None,
        "planned_min_hourly_wage_yen": c.planned_min_hourly_wage_yen,
        "planned_employees": c.planned_employees,
        "value_added_cagr_pct": c.value_added_cagr_pct,
        "payroll_cagr_pct": c.payroll_cagr_pct,
    }
    for code in EXPENSE_CODES:
        record[f"expense_{code}"] = expenses.get(code, 0)
    return record


class Batch:
    """Columns of facts for n businesses; every rule reads its inputs from here.

    A batch of one holds plain Python scalars instead of 1-element arrays (`scalar` is True): the
    rules run unchanged on either, and scalars avoid numpy's per-call cost for a single business.
    """

    __slots__ = ("n", "values", "known", "scalar", "_zeros")

    def __init__(
        self, n: int, values: dict[str, Any], known: dict[str, Any], *, scalar: bool = False
    ) -> None:
        self.n = n
        self.values = values
        self.known = known
        self.scalar = scalar
        self._zeros: Any = 0 if scalar else np.zeros(n, dtype=np.int64)

    @property
    def size(self) -> int | None:
        """The batch size for vector helpers, None on scalars."""
        return None if self.scalar else self.n

    def full(self, value: Any) -> Any:
        return value if self.scalar else np.full(self.n, value)

    def number(self, name: str) -> tuple[Ints, Bools]:
        return self.values[name], self.known[name]

    def tri(self, name: str) -> Tri:
        return self.values[name]

    def flag(self, name: str) -> Bools:
        return self.values[name] == PASS

    def code(self, name: str) -> npt.NDArray[np.int16]:
        return self.values[name]  # type: ignore[no-any-return]

    def has_any(self, name: str, codes: tuple[str, ...] | list[str]) -> Tri:
        """Whether the set column holds any of `codes` (UNKNOWN where the set was not given)."""
        return tri((self.values[name] & _bits(name, tuple(codes))) != 0, self.known[name])

    def count(self, name: str) -> Ints:
        """How many members a set column holds per row."""
        value = self.values[name]
        if self.scalar:
            return int(value).bit_count()
        return np.bitwise_count(value.astype(np.uint64)).astype(np.int64)

    def expense(self, category: str) -> Ints:
        return self.values.get(f"expense_{category}", self._zeros)

    def expenses(self, categories: tuple[str, ...] | list[str]) -> Ints:
        if self.scalar:
            return sum(self.values.get(f"expense_{c}", 0) for c in categories)
        total = self._zeros.copy()
        for category in categories:
            column = self.values.get(f"expense_{category}")
            if column is not None:
                total += column
        return total

    def row(self, i: int) -> dict[str, Any]:
        """One business's facts as plain Python values (for explanations)."""
        out: dict[str, Any] = {}
        for column in COLUMNS:
            value = self.values.get(column.name)
            if value is None:
                continue
            known = self.known.get(column.name)
            if self.scalar:
                out[column.name] = _decode(column, value, known)
            else:
                out[column.name] = _decode(column, value[i], None if known is None else known[i])
        return out

    # -- builders --
    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> Batch:
        """Rows produced by `profile_to_record` (already validated by the schema)."""
        n = len(records)
        values: dict[str, npt.NDArray[Any]] = {}
        known: dict[str, Bools] = {}
        for column in COLUMNS:
            raw = [r.get(column.name) for r in records]
            kind = column.kind
            if kind == "yen":
                if any(raw):
                    values[column.name] = np.array([v or 0 for v in raw], dtype=np.int64)
                continue
            mask = np.array([v is not None for v in raw], dtype=bool)
            if kind in ("tri", "flag"):
                values[column.name] = np.array(
                    [UNKNOWN if v is None and kind == "tri" else (PASS if v else FAIL) for v in raw],
                    dtype=np.int8,
                )
                continue
            if kind == "enum":
                index = {v: i for i, v in enumerate(column.vocab)}
                values[column.name] = np.array(
                    [index[v] if v is not None else -1 for v in raw], dtype=np.int16
                )
            elif kind == "set":
                index = {v: i for i, v in enumerate(column.vocab)}
                values[column.name] = np.array(
                    [sum(1 << index[x] for x in set(v)) if v is not None else 0 for v in raw], dtype=np.int64
                )
            elif kind == "date":
                values[column.name] = np.array(
                    [v.toordinal() - EPOCH_ORDINAL if v is not None else 0 for v in raw], dtype=np.int64
                )
            elif kind == "pct":
                values[column.name] = np.array(
                    [int(v * 100) if v is not None else 0 for v in raw], dtype=np.int64
                )
            else:
                values[column.name] = np.array([v if v is not None else 0 for v in raw], dtype=np.int64)
            known[column.name] = mask
        return cls(n, values, known)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Batch:
        """One business on scalars (see the class docstring); the same encoding as `from_records`."""
        values: dict[str, Any] = {}
        known: dict[str, Any] = {}
        for column in COLUMNS:
            value = record.get(column.name)
            kind = column.kind
            if kind == "yen":
                if value:
                    values[column.name] = value
                continue
            if kind in ("tri", "flag"):
                values[column.name] = 1 if value is None and kind == "tri" else (2 if value else 0)
                continue
            known[column.name] = value is not None
            if value is None:
                values[column.name] = -1 if kind == "enum" else 0
            elif kind == "enum":
                values[column.name] = _INDEX[column.name][value]
            elif kind == "set":
                index = _INDEX[column.name]
                values[column.name] = sum(1 << index[x] for x in set(value))
            elif kind == "date":
                values[column.name] = value.toordinal() - EPOCH_ORDINAL
            elif kind == "pct":
                values[column.name] = int(value * 100)
            else:
                values[column.name] = value
        return cls(1, values, known, scalar=True)


@lru_cache(maxsize=512)
def _bits(name: str, codes: tuple[str, ...]) -> int:
    vocab = BY_NAME[name].vocab
    bits = 0
    for code in codes:
        bits |= 1 << vocab.index(code)
    return bits


def _decode(column: Column, value: Any, known: Any) -> Any:
    if known is not None and not known:
        return None
    kind = column.kind
    if kind in ("tri", "flag"):
        return None if value == UNKNOWN else bool(value == PASS)
    if kind == "enum":
        return column.vocab[int(value)] if value >= 0 else None
    if kind == "set":
        return [code for bit, code in enumerate(column.vocab) if int(value) >> bit & 1]
    if kind == "date":
        return date.fromordinal(int(value) + EPOCH_ORDINAL)
    return int(value)


EMPTY_SET_WORDS: Final = frozenset({"-", "なし", "none"})


def parse_set(text: str, column: Column) -> int:
    """'labor_saving dx' → bit mask; '-' (or なし, none) is the empty set; a blank cell is not given.

    Raises ValueError naming the unknown member.
    """
    if text.strip().lower() in EMPTY_SET_WORDS:
        return 0
    bits = 0
    for part in SET_SPLIT.split(text.strip()):
        if not part:
            continue
        try:
            bits |= 1 << column.vocab.index(part)
        except ValueError:
            raise ValueError(part) from None
    return bits


def parse_enum(text: str, column: Column) -> int:
    value = normalize_prefecture(text) if column.name == "prefecture" else text.strip()
    return column.vocab.index(value)
