"""Public program pages: list with filters, program pages, schedule, compare.

The pages depend only on the rules registry and the minute, so each page rendered for a visitor who is
not signed in is cached for the minute it was built in (per URL and htmx fragment): a busy list page is
rendered once a minute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from shien.programs import documents, pages
from shien.rules.registry import registry
from shien.rules.vocab import PREFECTURES


def _cached(request: HttpRequest, build: Callable[[], HttpResponse], stamp: str = "") -> HttpResponse:
    """The page built this minute for this URL (and `stamp`: what else it shows, such as the ids of the
    documents published in the office, so a change shows at once in every process). Only visitors who
    are not signed in share it: a signed-in user's page carries their own header (お知らせ, their
    home, the logout form with their CSRF token) and is built for them alone."""
    if request.user.is_authenticated:
        return build()
    fragment = "hx" if request.headers.get("HX-Request") else "page"
    key = f"page:{pages.minute():%Y%m%d%H%M}:{stamp}:{fragment}:{request.get_full_path()}"
    if len(key) > 250:
        key = "page:" + hashlib.sha256(key.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return HttpResponse(cached, content_type="text/html; charset=utf-8")
    response = build()
    if response.status_code == 200:
        cache.set(key, response.content, 60)
    return response


def per_minute(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            return view(request, *args, **kwargs)
        return _cached(request, lambda: view(request, *args, **kwargs))

    return wrapper


@per_minute
def program_list(request: HttpRequest) -> HttpResponse:
    at = pages.minute()
    params = {
        "audience": request.GET.get("audience", ""),
        "purpose": request.GET.get("purpose", ""),
        "open_now": request.GET.get("open") == "1",
        "q": request.GET.get("q", "")[:100],
    }
    if params["audience"] not in pages.FILTERS["audience"]:
        params["audience"] = ""
    if params["purpose"] not in pages.FILTERS["purpose"]:
        params["purpose"] = ""
    prefecture = request.GET.get("prefecture", "")
    programs = pages.filter_programs(pages.programs_view(at), **params)  # type: ignore[arg-type]
    context = {
        "programs": programs,
        "params": params,
        "prefecture": prefecture if prefecture in PREFECTURES else "",
        "audiences": pages.FILTERS["audience"],
        "purposes": pages.FILTERS["purpose"],
        "prefectures": PREFECTURES,
    }
    template = "programs/_list.html" if request.headers.get("HX-Request") else "programs/list.html"
    return render(request, template, context)


def program_detail(request: HttpRequest, program_id: str) -> HttpResponse:
    if program_id not in registry().programs:
        raise Http404("制度が見つかりません")
    by_round = documents.documents_of_program(program_id)  # the one query, also when cached
    stamp = ",".join(f"{d.pk}" for found in by_round.values() for d in found)

    def build() -> HttpResponse:
        program = pages.program_view(program_id, pages.minute())
        rounds = [
            {"name": w["name"], "documents": documents.public_list(by_round[w["id"]])}
            for w in program["windows"]
            if w["id"] in by_round
        ]
        return render(request, "programs/detail.html", {"program": program, "round_documents": rounds})

    return _cached(request, build, stamp)


@per_minute
def schedule(request: HttpRequest) -> HttpResponse:
    at = pages.minute()
    return render(
        request, "programs/schedule.html", {"months": pages.schedule(at), "timeline": pages.timeline(at)}
    )


@per_minute
def compare(request: HttpRequest) -> HttpResponse:
    at = pages.minute()
    keys = [k for k in (request.GET.get("a", ""), request.GET.get("b", "")) if k]
    options = [
        (f"{p['id']}/{f['id']}", f"{p['short_name']} {f['name']}")
        for p in pages.programs_view(at)
        for f in p["frames"]
        if f["terms"]
    ]
    valid = {k for k, _ in options}
    chosen = []
    for key in keys:
        if key in valid:
            program = pages.program_view(key.split("/")[0], at)
            frame = next(f for f in program["frames"] if f["key"] == key)
            chosen.append({"program": program, "frame": frame})
    return render(
        request,
        "programs/compare.html",
        {
            "options": options,
            "chosen": chosen,
            "a": keys[0] if keys else "",
            "b": keys[1] if len(keys) > 1 else "",
        },
    )
