"""The issue's example profile (広島の製造業30人、省力化 6,000万円): one copy for docs, tests and benchmarks."""

from __future__ import annotations

from typing import Any, Final

EXAMPLE_PROFILE: Final[dict[str, Any]] = {
    "as_of": "2024-03-20T10:00:00+09:00",
    "business": {
        "prefecture": "広島県", "industry": "製造業", "capital_yen": 100000000, "employees": 30,
        "min_hourly_wage_yen": 1000, "deficit": False, "was_tax_exempt": False, "invoice_registered": False,
        "revitalization": False,
    },
    "plan": {
        "purposes": ["labor_saving"],
        "expenses": [{"category": "machinery", "amount_yen": 60000000}],
        "commitments": {"wage_increase_special": False, "covid_recovery_special": False,
                        "planned_min_hourly_wage_yen": 1030},
    },
}  # fmt: skip
