"""The program registry: programs, frames, rounds and dated parameters, loaded from `parameters/*.yaml`.

The YAML files are the one source of truth for every figure. A parameter holds values keyed by the
date they take effect; rules read a value only through `Registry.at(date)`, so a new round adds a
dated entry instead of editing an old one. Every value names its reference and carries a status
(`verified` or `unverified`) that the engine passes on to users.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml

JST = ZoneInfo("Asia/Tokyo")
PARAMETER_DIR = Path(__file__).parent / "parameters"
Status = Literal["verified", "unverified"]


class RegistryError(Exception):
    """The YAML registry is malformed (a developer error, caught by the test suite)."""


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    title: str
    url: str | None = None
    also: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)  # identity: values may be dicts
class Entry:
    """One dated value of a parameter."""

    name: str
    since: date
    value: Any
    reference: Reference
    status: Status = "verified"
    note: str | None = None

    @property
    def unverified(self) -> bool:
        return self.status == "unverified"

    def source(self) -> dict[str, Any]:
        """Where the value comes from, as shown to users (built once; treat as read-only)."""
        return _source_dict(self)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    description: str
    unit: str | None
    entries: tuple[Entry, ...]  # sorted by `since`

    def at(self, day: date) -> Entry:
        """The entry in force on `day`; before the first entry, the first one (rules never predate it)."""
        index = bisect.bisect_right([e.since for e in self.entries], day) - 1
        return self.entries[max(index, 0)]


@dataclass(frozen=True, slots=True)
class Round:
    program: str
    id: str
    name: str
    frames: tuple[str, ...]
    acceptance_start: datetime | None
    acceptance_end: datetime | None
    reference: Reference
    status: Status = "verified"
    note: str | None = None
    announced_at: datetime | None = None
    results: str | None = None
    project_end: date | None = None
    report_deadline: date | None = None
    form4_deadline: datetime | None = None
    excludes_later: tuple[str, ...] = ()

    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.program}/{self.id}")

    def accepting(self, at: datetime) -> bool:
        """Open from the first second of the window to its last, both included (17:00:00 JST is in)."""
        if self.acceptance_start is None or self.acceptance_end is None:
            return False
        return self.acceptance_start <= at <= self.acceptance_end


@dataclass(frozen=True, slots=True)
class Frame:
    program: str
    id: str
    name: str
    summary: str
    purposes: tuple[str, ...] = ()
    expenses: tuple[str, ...] = ()
    required_expense: str | None = None
    succession_types: tuple[str, ...] = ()
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.program}/{self.id}")


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    short_name: str
    kind: Literal["grant", "non_grant"]
    summary: str
    authority: str
    audience: tuple[str, ...]
    contact: dict[str, Any]
    how_to_apply: str
    reference: Reference
    frames: dict[str, Frame]
    rounds: tuple[Round, ...]
    budget: str | None = None
    steps: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    participation: str | None = None
    order: int = 0
    # the procedure's shape: a 事業支援計画書（様式4） from the 商工会・商工会議所 before applying, and
    # 採択 that is itself the 交付決定 (the catalog type)
    support_plan_required: bool = False
    adoption_is_grant: bool = False

    def rounds_for(self, frame: str) -> tuple[Round, ...]:
        return tuple(r for r in self.rounds if frame in r.frames)

    def round(self, round_id: str) -> Round | None:
        """The round `round_id` of this program, or None (a handful of rounds: a scan is cheapest)."""
        for r in self.rounds:
            if r.id == round_id:
                return r
        return None


@dataclass(frozen=True)
class ParamView:
    """All parameters as they stand on one day."""

    day: date
    entries: dict[str, Entry] = field(repr=False)
    derived: dict[str, Any] = field(default_factory=dict, repr=False)  # tables built from entries

    def table(self, key: str, build: Callable[[ParamView], Any]) -> Any:
        """A value derived from this day's parameters, built once per day."""
        if key not in self.derived:
            self.derived[key] = build(self)
        return self.derived[key]

    def __getitem__(self, name: str) -> Any:
        return self.entries[name].value

    def entry(self, name: str) -> Entry:
        return self.entries[name]


def _aware(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise RegistryError(f"{where}: datetime without a time zone: {value!r}")
    return parsed.astimezone(JST)


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class Registry:
    """Everything the YAML files say, indexed for the engine and the web pages."""

    def __init__(self, directory: Path = PARAMETER_DIR) -> None:
        self.programs: dict[str, Program] = {}
        self.parameters: dict[str, Parameter] = {}
        for path in sorted(directory.glob("*.yaml")):
            self._load_file(path)
        # the seed's order, which is the order people know the programs in
        self.programs = dict(sorted(self.programs.items(), key=lambda kv: kv[1].order))

    def _load_file(self, path: Path) -> None:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # noqa: S506 (safe loader)
        refs = {
            rid: Reference(id=rid, title=r["title"], url=r.get("url"), also=tuple(r.get("also", ())))
            for rid, r in (doc.get("references") or {}).items()
        }

        def ref(rid: str, where: str) -> Reference:
            try:
                return refs[rid]
            except KeyError as exc:
                raise RegistryError(f"{path.name}: {where}: unknown reference {rid!r}") from exc

        program_doc = doc.get("program")
        prefix = f"{program_doc['id']}." if program_doc else ""
        for local, pdoc in (doc.get("parameters") or {}).items():
            name = prefix + local
            entries = []
            for since, e in sorted(pdoc["values"].items()):
                status = e.get("status", "verified")
                if status not in ("verified", "unverified"):
                    raise RegistryError(f"{path.name}: {name}: bad status {status!r}")
                entries.append(
                    Entry(
                        name=name,
                        since=_day(since) or date.min,
                        value=e["value"],
                        reference=ref(e["reference"], name),
                        status=status,
                        note=e.get("note"),
                    )
                )
            if not entries:
                raise RegistryError(f"{path.name}: {name}: no values")
            self.parameters[name] = Parameter(
                name=name, description=pdoc["description"], unit=pdoc.get("unit"), entries=tuple(entries)
            )
        if not program_doc:
            return
        pid = program_doc["id"]
        frames = {
            fid: Frame(
                program=pid,
                id=fid,
                name=f["name"],
                summary=f["summary"],
                purposes=tuple(f.get("purposes", ())),
                expenses=tuple(f.get("expenses", ())),
                required_expense=f.get("required_expense"),
                succession_types=tuple(f.get("succession_types", ())),
            )
            for fid, f in doc["frames"].items()
        }
        rounds = []
        for r in doc.get("rounds") or ():
            where = f"{pid} round {r['id']}"
            unknown = set(r["frames"]) - set(frames)
            if unknown:
                raise RegistryError(f"{path.name}: {where}: unknown frames {sorted(unknown)}")
            rounds.append(
                Round(
                    program=pid,
                    id=str(r["id"]),
                    name=r["name"],
                    frames=tuple(r["frames"]),
                    acceptance_start=_aware(r.get("acceptance_start"), where),
                    acceptance_end=_aware(r.get("acceptance_end"), where),
                    reference=ref(r["reference"], where),
                    status=r.get("status", "verified"),
                    note=r.get("note"),
                    announced_at=_aware(r.get("announced_at"), where),
                    results=r.get("results"),
                    project_end=_day(r.get("project_end")),
                    report_deadline=_day(r.get("report_deadline")),
                    form4_deadline=_aware(r.get("form4_deadline"), where),
                    excludes_later=tuple(str(x) for x in r.get("excludes_later", ())),
                )
            )
        contact = dict(program_doc["contact"])
        contact["reference"] = ref(contact["reference"], f"{pid} contact").title
        self.programs[pid] = Program(
            id=pid,
            name=program_doc["name"],
            short_name=program_doc["short_name"],
            kind=program_doc["kind"],
            summary=program_doc["summary"],
            authority=program_doc["authority"],
            audience=tuple(program_doc["audience"]),
            contact=contact,
            how_to_apply=program_doc["how_to_apply"],
            reference=ref(program_doc["reference"], pid),
            frames=frames,
            rounds=tuple(rounds),
            budget=program_doc.get("budget"),
            steps=tuple(program_doc.get("steps", ())),
            goals=tuple(program_doc.get("goals", ())),
            notes=tuple(program_doc.get("notes", ())),
            facts=tuple(program_doc.get("facts", ())),
            participation=program_doc.get("participation"),
            order=int(program_doc.get("order", 0)),
            support_plan_required=bool(program_doc.get("support_plan_required", False)),
            adoption_is_grant=bool(program_doc.get("adoption_is_grant", False)),
        )

    @functools.lru_cache(maxsize=256)  # noqa: B019 (the registry lives for the process)
    def at(self, day: date) -> ParamView:
        return ParamView(day=day, entries={name: p.at(day) for name, p in self.parameters.items()})

    def frame(self, key: str) -> Frame:
        program, _, frame = key.partition("/")
        return self.programs[program].frames[frame]

    def round(self, program: str, round_id: str) -> Round | None:
        """The round `round_id` of `program`; None where either is unknown (callers decide what that means).

        Reads `programs` on every call, so practice rounds added for the demo (rules.demo) are found.
        """
        found = self.programs.get(program)
        return found.round(round_id) if found is not None else None


@functools.lru_cache(maxsize=4096)
def _source_dict(self: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "parameter": self.name,
        "since": self.since.isoformat(),
        "reference": self.reference.title,
        "url": self.reference.url,
        "status": self.status,
    }
    if self.note:
        out["note"] = self.note
    return out


@functools.cache
def registry() -> Registry:
    return Registry()
