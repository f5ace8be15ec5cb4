"""Vector arithmetic for the rules: three-state logic and exact integer money.

Every function takes numpy arrays (a batch) or plain Python scalars (one business): the rule code is
the same, and a batch of one runs on scalars because numpy's per-call cost dominates tiny arrays.

A criterion's result is an int8 per business: FAIL=0, UNKNOWN=1, PASS=2. With that order Kleene
logic is arithmetic: AND is the minimum, OR is the maximum, NOT is 2 - x. A fact that was not given
makes a criterion UNKNOWN, which is a condition to confirm rather than a failure.

Money is int64 yen and rates are Fractions; a product is floored once, after exact integer
arithmetic (amount * numerator // denominator), so no float ever touches an amount.
"""

from __future__ import annotations

import bisect
from fractions import Fraction
from functools import lru_cache, reduce
from typing import Any, Final

import numpy as np
import numpy.typing as npt

# A column or a scalar: rules are written once for both (see the module docstring).
Tri = Any
Ints = Any
Bools = Any

FAIL: Final = np.int8(0)
UNKNOWN: Final = np.int8(1)
PASS: Final = np.int8(2)


def tri(condition: Bools, known: Bools | None = None) -> Tri:
    """PASS where the condition holds, FAIL where not, UNKNOWN where the facts are not known."""
    if type(condition) is not np.ndarray:
        if known is not None and not known:
            return 1
        return 2 if condition else 0
    doubled = condition.view(np.int8) << 1
    return doubled if known is None else np.where(known, doubled, UNKNOWN)


def where(condition: Bools, a: Any, b: Any) -> Any:
    if type(condition) is np.ndarray:
        return np.where(condition, a, b)
    return a if condition else b


def minimum(a: Any, b: Any) -> Any:
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return np.minimum(a, b)
    return a if a <= b else b


def not_(mask: Bools) -> Bools:
    return ~mask if type(mask) is np.ndarray else not mask


def all_of(*values: Tri) -> Tri:
    if type(values[0]) is not np.ndarray:
        return min(values)
    return reduce(np.minimum, values)


def any_of(*values: Tri) -> Tri:
    if type(values[0]) is not np.ndarray:
        return max(values)
    return reduce(np.maximum, values)


def negate(value: Tri) -> Tri:
    return (PASS - value).astype(np.int8) if type(value) is np.ndarray else 2 - value


def is_true(value: Tri) -> Bools:
    """Only what is known to hold (unknown counts as not holding, e.g. for a preferential rate)."""
    return value == PASS


def all_passable(values: list[Tri]) -> Bools:
    """Eligible: no criterion failed (unknown ones become conditions to confirm)."""
    if type(values[0]) is not np.ndarray:
        return min(values) != 0
    return np.minimum.reduce(values) != FAIL if len(values) > 1 else values[0] != FAIL


@lru_cache(maxsize=1024)
def _parse_fraction(value: str | int) -> Fraction:
    return Fraction(value)


def frac(value: str | int | Fraction) -> Fraction:
    return value if type(value) is Fraction else _parse_fraction(value)


def percent(value: Fraction) -> str:
    """3/100 → '3', 3/200 → '1.5' (the percentage as written, exact)."""
    pct = value * 100
    if pct.denominator == 1:
        return str(pct.numerator)
    text = f"{pct.numerator / pct.denominator:.4f}".rstrip("0").rstrip(".")
    return text


def mul_floor(amount: Ints, rate: Fraction) -> Ints:
    """floor(amount * rate), exact for non-negative int64 amounts."""
    return (amount * rate.numerator) // rate.denominator


def tiered(amount: Ints, rate: Fraction, threshold: int, over: Fraction) -> Ints:
    """Subsidy at `rate` until the subsidy reaches `threshold` yen, at `over` for the expenses beyond.

    With rate = a/b and over = c/d: below the threshold floor(E*a/b); above it the exact value is
    T + (E - T*b/a) * c/d = T + (a*E - T*b) * c / (a*d), floored once.
    """
    a, b = rate.numerator, rate.denominator
    c, d = over.numerator, over.denominator
    scaled = amount * a
    limit = threshold * b
    below = scaled // b
    above = threshold + ((scaled - limit) * c) // (a * d)
    return where(scaled <= limit, below, above)


def select_rate(choices: list[tuple[Bools, int]], default: int, n: int | None) -> Any:
    """Index of the rate that applies per row: the first choice whose mask holds, else `default`.

    `n` is the batch size, or None for one business on scalars.
    """
    if n is None:
        return next((index for mask, index in choices if mask), default)
    out: Any = np.int8(default)
    for mask, index in reversed(choices):
        out = np.where(mask, np.int8(index), out)
    return out if isinstance(out, np.ndarray) else np.full(n, default, dtype=np.int8)


@lru_cache(maxsize=256)
def rate_arrays(rates: tuple[Fraction, ...]) -> tuple[Ints, Ints]:
    """Numerators and denominators of `rates`, to pick per row by rate index."""
    return (
        np.array([r.numerator for r in rates], dtype=np.int64),
        np.array([r.denominator for r in rates], dtype=np.int64),
    )


def mul_floor_indexed(amount: Ints, index: npt.NDArray[np.int8], rates: tuple[Fraction, ...]) -> Ints:
    """floor(amount * rates[index]) per row."""
    if len(rates) == 1:
        return mul_floor(amount, rates[0])
    if type(index) is not np.ndarray:
        return mul_floor(amount, rates[index])
    num, den = rate_arrays(rates)
    return (amount * num[index]) // den[index]


@lru_cache(maxsize=256)
def _bands(maxima: tuple[int | None, ...], column: tuple[int, ...]) -> tuple[Ints, Ints]:
    edges = np.array([m for m in maxima if m is not None], dtype=np.int64)
    return edges, np.asarray(column, dtype=np.int64)


def band_lookup(values: Ints, maxima: list[int | None], column: list[int]) -> Ints:
    """The column value of the first band whose maximum is >= value (None is the open top band)."""
    edges, table = _bands(tuple(maxima), tuple(column))
    if type(values) is not np.ndarray:
        return column[bisect.bisect_left(edges.tolist(), values)]
    return table[np.searchsorted(edges, values, side="left")]


def tiered_indexed(
    amount: Ints, index: npt.NDArray[np.int8], rates: tuple[Fraction, ...], threshold: int, over: Fraction
) -> Ints:
    """`tiered` with the first rate chosen per row."""
    if len(rates) == 1:
        return tiered(amount, rates[0], threshold, over)
    if type(index) is not np.ndarray:
        return tiered(amount, rates[index], threshold, over)
    nums, dens = rate_arrays(rates)
    a, b = nums[index], dens[index]
    c, d = over.numerator, over.denominator
    scaled = amount * a
    limit = threshold * b
    return np.where(scaled <= limit, scaled // b, threshold + ((scaled - limit) * c) // (a * d))
