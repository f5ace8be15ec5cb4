"""`shien serve` with benchmark rounds added to the registry (used by bench_submit.py only).

The deadline-rush benchmark needs a round whose deadline falls a few seconds into the run. The
registry is read once, before gunicorn forks (`preload_app`), so this launcher adds the rounds given
in the environment variable SHIEN_BENCH_ROUNDS (a JSON list) to the loaded registry, then runs the
ordinary `shien serve` command: the same server, settings, views and services as production; the
production code has no switch for it and its YAML files are untouched.

Each round: {"program": "monozukuri", "id": "B1", "start": ISO 8601, "end": ISO 8601,
"like": "18"} — frames, announcement date (hence the rule parameters) and dates after the deadline
are those of round `like`; only the id, the name and the acceptance window differ.

Run: python benchmarks/submit_server.py serve --port 8798 --workers 4 --quiet
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import datetime
from typing import Any


def add_rounds(specs: list[dict[str, Any]]) -> None:
    from shien.rules.registry import JST, registry

    reg = registry()  # the first load of this process: nothing derived from it is cached yet
    for spec in specs:
        program = reg.programs[spec["program"]]
        like = next(r for r in program.rounds if r.id == spec.get("like", "18"))
        bench = dataclasses.replace(
            like,
            id=spec["id"],
            name=f"負荷試験用の公募回 {spec['id']}（ベンチマーク専用）",
            acceptance_start=datetime.fromisoformat(spec["start"]).astimezone(JST),
            acceptance_end=datetime.fromisoformat(spec["end"]).astimezone(JST),
            status="unverified",
            note="benchmarks/bench_submit.py が起動時に追加した公募回",
            excludes_later=(),
        )
        rounds = tuple(r for r in program.rounds if r.id != bench.id) + (bench,)
        reg.programs[program.id] = dataclasses.replace(program, rounds=rounds)


def main() -> int:
    # in the gunicorn master, which forks the workers (the set-up and task worker processes of
    # `shien serve` do not judge rounds: they need none of these)
    add_rounds(json.loads(os.environ.get("SHIEN_BENCH_ROUNDS", "[]")))
    from shien.cli import main as shien

    return shien(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
