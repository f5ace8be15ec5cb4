"""Synthetic populations of businesses for benchmarks and property tests (deterministic by seed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shien.rules.columns import COLUMNS, Batch
from shien.rules.vocab import EXPENSE_CODES, INDUSTRIES, PREFECTURES, PURPOSE_CODES

# the expense categories a synthetic business may have (a realistic handful, not all 28)
SYNTHETIC_EXPENSES = (
    "machinery",
    "software",
    "cloud",
    "advertising",
    "website",
    "pc",
    "catalog_product",
    "expert",
    "ordering_software",
    "security_service",
)


def columns(n: int, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Random but plausible facts for n businesses: {column: (values, known)}."""
    rng = np.random.default_rng(seed)
    yes = np.ones(n, dtype=bool)

    def tri() -> tuple[np.ndarray, np.ndarray]:
        return rng.choice(np.array([0, 1, 2], dtype=np.int8), n, p=[0.45, 0.1, 0.45]), yes

    out: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "industry": (rng.integers(0, len(INDUSTRIES), n).astype(np.int16), yes),
        "prefecture": (rng.integers(-1, len(PREFECTURES), n).astype(np.int16), yes),
        "employees": (
            rng.choice([0, 3, 5, 6, 12, 20, 21, 45, 99, 100, 250, 301, 1000], n).astype(np.int64),
            yes,
        ),
        "capital_yen": (
            rng.choice([0, 3_000_000, 10_000_000, 50_000_000, 100_000_000, 300_000_001], n).astype(np.int64),
            rng.random(n) < 0.9,
        ),
        "min_hourly_wage_yen": (rng.integers(890, 1250, n).astype(np.int64), rng.random(n) < 0.8),
        "planned_min_hourly_wage_yen": (rng.integers(900, 1300, n).astype(np.int64), rng.random(n) < 0.7),
        "planned_employees": (rng.integers(0, 40, n).astype(np.int64), rng.random(n) < 0.5),
        "software_processes": (rng.integers(1, 8, n).astype(np.int64), rng.random(n) < 0.6),
        "invoice_functions": (rng.integers(0, 8, n).astype(np.int64), rng.random(n) < 0.6),
        "consortium_members": (rng.integers(1, 30, n).astype(np.int64), rng.random(n) < 0.3),
        "purposes": (rng.integers(0, 1 << len(PURPOSE_CODES), n).astype(np.int64), rng.random(n) < 0.95),
        "succession_types": (rng.integers(0, 64, n).astype(np.int64), rng.random(n) < 0.3),
        "value_added_cagr_pct": (rng.integers(0, 600, n).astype(np.int64), rng.random(n) < 0.5),
        "payroll_cagr_pct": (rng.integers(0, 400, n).astype(np.int64), rng.random(n) < 0.5),
        "founded_on": (rng.integers(17_000, 20_000, n).astype(np.int64), rng.random(n) < 0.4),
        "applied_rounds": (np.zeros(n, dtype=np.int64), rng.random(n) < 0.5),
    }
    for name in (
        "deficit",
        "was_tax_exempt",
        "invoice_registered",
        "revitalization",
        "operating_margin_decline",
        "labor_shortage",
        "atotsugi_finalist",
        "tokutei_sogyo_support",
    ):
        out[name] = tri()
    for name in ("wage_increase_special", "covid_recovery_special"):
        out[name] = (np.where(rng.random(n) < 0.3, 2, 0).astype(np.int8), yes)
    out["expenses_given"] = (np.full(n, 2, dtype=np.int8), yes)
    for code in SYNTHETIC_EXPENSES:
        present = rng.random(n) < 0.35
        amount = (rng.lognormal(14.5, 1.6, n)).astype(np.int64) // 1000 * 1000
        out[f"expense_{code}"] = (np.where(present, np.minimum(amount, 10**10), 0).astype(np.int64), yes)
    assert set(out) <= {c.name for c in COLUMNS} and all(
        f"expense_{c}" in {x.name for x in COLUMNS} for c in EXPENSE_CODES
    )
    return out


def batch(n: int, seed: int = 0) -> Batch:
    cols = columns(n, seed)
    values: dict[str, Any] = {k: v for k, (v, _) in cols.items()}
    known = {k: m for k, (_, m) in cols.items() if not k.startswith("expense_")}
    # tri/flag columns carry their own unknown state; a masked enum is code -1
    for name in [k for k in known if cols[k][0].dtype == np.int8]:
        del known[name]
    for name in ("industry", "prefecture"):
        known.pop(name, None)
    return Batch(n, values, known)
