"""PDF summaries of each round's rules, generated from the dated parameters (not a 公募要領).

For each round of each grant program: its dates, and for each frame it covers the caps, rates,
lower limit, provisions, requirements, target size and eligible expenses, each with its source and
the ※未確認 mark where the value is not confirmed in a 公募要領. The rules are those of the round
(parameters as of its announcement), as the engine judges it. Rendered with WeasyPrint from a Django
template in whatever Japanese font fontconfig has; published as the round's "その他" document, clearly
labelled as shien's summary.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Collection
from datetime import date
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string

from shien.programs import documents
from shien.programs.jgrants import employee_target
from shien.programs.models import RoundDocument
from shien.rules import clock
from shien.rules.registry import JST, Program, Round, registry
from shien.rules.terms import frame_terms
from shien.rules.text import wareki_date, wareki_datetime

SAFE_FAMILY = re.compile(r"[\w .\-]+")
LABEL = "shien が公開パラメータから作成した要約です（公募要領ではありません）"


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """Families fontconfig knows for Japanese (sans first, monospace last); () if there is none."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return ()
    listed = subprocess.run(  # noqa: S603 (a fixed command, no shell)
        [fc_list, ":lang=ja", "family"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    families = sorted(
        {name.strip() for line in listed.splitlines() for name in line.split(",")[:1] if name.strip()}
    )
    safe = [f for f in families if SAFE_FAMILY.fullmatch(f)]  # quoted into the CSS as they are
    return tuple(sorted(safe, key=lambda f: ("Mono" in f, "JP" not in f, "Sans" not in f, f)))


def rules_day(window: Round) -> date:
    """The day whose parameters are the round's rules (its announcement, else its opening)."""
    moment = window.announced_at or window.acceptance_start
    return moment.astimezone(JST).date() if moment else clock.today()


def _source(src: dict[str, Any] | None, label: str) -> dict[str, Any] | None:
    if not src:
        return None
    return {"label": label, "reference": src["reference"], "unverified": src["status"] == "unverified",
            "note": src.get("note") or ""}  # fmt: skip


def summary_context(program: Program, window: Round) -> dict[str, Any]:
    day = rules_day(window)
    frames = []
    for frame_id in window.frames:
        frame = program.frames.get(frame_id)
        terms = frame_terms(f"{program.id}/{frame_id}", day) if frame else None
        if frame is None or terms is None:
            continue
        _, _, size = employee_target(frame, day)
        sources = [
            _source(terms["caps"].get("source"), "補助上限額"),
            _source(terms["rates"].get("source"), "補助率"),
            _source(terms.get("lower_limit_source"), "補助下限額") if terms.get("lower_limit_yen") else None,
            *(_source(p.get("source"), p["name"]) for p in terms["provisions"]),
        ]
        frames.append({"frame": frame, "terms": terms, "size": size, "sources": [s for s in sources if s]})
    return {
        "label": LABEL,
        "font_stack": ", ".join([*(f'"{f}"' for f in cjk_fonts()[:2]), "sans-serif"]),
        "program": program,
        "round": window,
        "rules_day": wareki_date(day),
        "start": wareki_datetime(window.acceptance_start) if window.acceptance_start else "未定",
        "end": wareki_datetime(window.acceptance_end) if window.acceptance_end else "未定",
        "form4": wareki_datetime(window.form4_deadline) if window.form4_deadline else "",
        "project_end": wareki_date(window.project_end) if window.project_end else "",
        "report_deadline": wareki_date(window.report_deadline) if window.report_deadline else "",
        "frames": frames,
    }


def render_html(program: Program, window: Round) -> str:
    return render_to_string("programs/round_summary.html", summary_context(program, window))


def render_pdf(program: Program, window: Round, html: str | None = None) -> bytes:
    from weasyprint import HTML  # imported on use: loading it (pango, fonts) costs ~0.5 s

    return bytes(HTML(string=html or render_html(program, window)).write_pdf())


def title_of(program: Program, window: Round) -> str:
    return f"{program.short_name} {window.name} ルールの要約（shien 作成）"[:200]


def rounds_to_summarise(programs: Collection[str] = ()) -> list[tuple[Program, Round]]:
    """Every round that covers a frame, of every grant program (or of `programs`)."""
    return [
        (p, r)
        for p in registry().programs.values()
        if p.kind == "grant" and (not programs or p.id in programs)
        for r in p.rounds
        if r.frames
    ]


def make_round_summaries(programs: Collection[str] = ()) -> dict[str, int]:
    """Create or refresh each round's generated summary. Idempotent: a round whose summary has not
    changed keeps its document; a changed one is replaced (both audited)."""
    counts = {"created": 0, "replaced": 0, "unchanged": 0}
    for program, window in rounds_to_summarise(programs):
        html = render_html(program, window)
        source = documents.sha256(html.encode())
        generated = documents.documents_of(program.id, window.id).filter(generated=True)
        if generated.filter(source_sha256=source).exists():  # the same rules: no PDF to render
            counts["unchanged"] += 1
            continue
        content = render_pdf(program, window, html)
        with transaction.atomic():
            old = list(generated.select_for_update())
            for d in old:
                documents.document_remove(actor=None, document_id=d.pk, generated=True)
            documents.document_add(
                actor=None,
                program=program.id,
                round_id=window.id,
                kind=RoundDocument.Kind.OTHER,
                title=title_of(program, window),
                content=content,
                generated=True,
                source_sha256=source,
            )
            counts["replaced" if old else "created"] += 1
    return counts
