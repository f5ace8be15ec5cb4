"""Practice rounds for the demo server (`shien serve --demo`) only.

Every FY2024 round is closed today, so without them nobody could try applying on the demo. In demo
mode each grant program gets one practice round (練習用の公募回), open from the start of today for
`days` days until 17:00, covering every frame that a dated round of the program covers and that
has no open round today (a real open round, like 省力化's 常時受付, is used as it is). Its rules are
those of the program's latest dated round (the same announcement date, so the same parameters); only
the id, the name and the dates differ (its 採択発表 is unknown; its `announced_at` stays the copied
round's, to select the same parameters, and is not shown as its own), and it is marked unverified with
a note saying it is a demo.

Call `add_practice_rounds` once, before anything derived from the registry is built (the CLI does it
before Django starts and before gunicorn forks). Production never calls it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta

from shien.rules.registry import JST, Round, registry

PRACTICE_ID = "demo"


def add_practice_rounds(at: datetime, days: int = 30) -> list[Round]:
    reg = registry()
    start = datetime.combine(at.astimezone(JST).date(), time(0, 0), tzinfo=JST)
    end = datetime.combine(start.date() + timedelta(days=days), time(17, 0), tzinfo=JST)
    added = []
    for program in list(reg.programs.values()):
        dated = [r for r in program.rounds if r.acceptance_start and r.acceptance_end]
        if program.kind != "grant" or not dated or program.round(PRACTICE_ID) is not None:
            continue
        latest = max(dated, key=lambda r: r.acceptance_end or start)
        frames = tuple(  # frames some dated round covers, and none is open now
            f for f in program.frames
            if any(f in r.frames for r in dated) and not any(f in r.frames and r.accepting(at) for r in dated)
        )  # fmt: skip
        if not frames:
            continue
        practice = dataclasses.replace(
            latest,
            id=PRACTICE_ID,
            name="練習用の公募回（デモ専用・実際の公募ではありません）",
            frames=frames,
            acceptance_start=start,
            acceptance_end=end,
            status="unverified",
            note=f"デモ用に追加した公募回。規則は {latest.name} と同じ",
            results=None,  # the copied round's 採択発表 (e.g. 2024年6月下旬) is not this round's
            form4_deadline=(end - timedelta(days=7)) if latest.form4_deadline else None,
            project_end=(end + timedelta(days=180)).date() if latest.project_end else None,
            report_deadline=(end + timedelta(days=190)).date() if latest.report_deadline else None,
            excludes_later=(),
        )
        reg.programs[program.id] = dataclasses.replace(program, rounds=(*program.rounds, practice))
        added.append(practice)
    return added
