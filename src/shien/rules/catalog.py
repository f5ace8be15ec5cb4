"""The registry as documents: programs, their frames and rounds, with windows and sources.

Used by `shien programs`, `GET /api/v1/programs` and the program pages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shien.rules import clock
from shien.rules.engine import round_dict
from shien.rules.frames.base import rounds_at
from shien.rules.registry import JST, Program, registry
from shien.rules.vocab import AUDIENCES, EXPENSE_CATEGORIES, PURPOSES


def program_document(program: Program, at: datetime) -> dict[str, Any]:
    current = rounds_at(at)
    frames = []
    for fid, frame in program.frames.items():
        frames.append(
            {
                "id": fid,
                "key": frame.key,
                "name": frame.name,
                "summary": frame.summary,
                "purposes": [{"code": p, "label": PURPOSES[p]} for p in frame.purposes],
                "expenses": [{"code": e, "label": EXPENSE_CATEGORIES[e]} for e in frame.expenses],
                "round": round_dict(current[frame.key]),
            }
        )
    rounds = [
        {
            "id": r.id,
            "name": r.name,
            "frames": list(r.frames),
            "acceptance_start": r.acceptance_start.isoformat() if r.acceptance_start else None,
            "acceptance_end": r.acceptance_end.isoformat() if r.acceptance_end else None,
            "accepting": r.accepting(at),
            "announced_at": r.announced_at.isoformat() if r.announced_at else None,
            "results": r.results,
            "project_end": r.project_end.isoformat() if r.project_end else None,
            "report_deadline": r.report_deadline.isoformat() if r.report_deadline else None,
            "form4_deadline": r.form4_deadline.isoformat() if r.form4_deadline else None,
            "status": r.status,
            "note": r.note,
            "reference": r.reference.title,
        }
        for r in program.rounds
    ]
    return {
        "id": program.id,
        "name": program.name,
        "short_name": program.short_name,
        "kind": program.kind,
        "summary": program.summary,
        "authority": program.authority,
        "budget": program.budget,
        "audience": [{"code": a, "label": AUDIENCES[a]} for a in program.audience],
        "participation": program.participation,
        "how_to_apply": program.how_to_apply,
        "steps": list(program.steps),
        "goals": list(program.goals),
        "notes": list(program.notes),
        "facts": list(program.facts),
        "contact": program.contact,
        "reference": {"title": program.reference.title, "url": program.reference.url},
        "accepting": any(r["accepting"] for r in rounds),
        "frames": frames,
        "rounds": rounds,
        "parameters": parameter_documents(program.id, at),
    }


def parameter_documents(program_id: str, at: datetime) -> list[dict[str, Any]]:
    """Every parameter of a program as it stands at `at`, with its dated history and sources."""
    reg = registry()
    day = at.astimezone(JST).date()
    out = []
    for name, parameter in reg.parameters.items():
        if not name.startswith(f"{program_id}."):
            continue
        current = parameter.at(day)
        out.append(
            {
                "name": name,
                "description": parameter.description,
                "unit": parameter.unit,
                "value": current.value,
                "since": current.since.isoformat(),
                "status": current.status,
                "note": current.note,
                "reference": {"title": current.reference.title, "url": current.reference.url},
                "history": [
                    {"since": e.since.isoformat(), "value": e.value, "status": e.status}
                    for e in parameter.entries
                ],
            }
        )
    return out


def catalog(at: datetime | None = None) -> list[dict[str, Any]]:
    moment = (at or clock.now()).astimezone(JST)
    return [program_document(p, moment) for p in registry().programs.values()]
