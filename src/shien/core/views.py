"""Pages of the core app: the home page and the health check."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from shien.programs.selectors import news_list
from shien.rules.catalog import catalog
from shien.rules.engine import now
from shien.rules.text import wareki_datetime


def home(request: HttpRequest) -> HttpResponse:
    moment = now()
    programs = catalog(moment)
    for program in programs:
        for frame in program["frames"]:
            r = frame["round"]
            frame["window"] = (
                wareki_datetime(datetime.fromisoformat(r["acceptance_end"]))
                if r and r["acceptance_end"]
                else None
            )
    return render(
        request,
        "core/home.html",
        {"programs": programs, "news": news_list(limit=10), "now": wareki_datetime(moment)},
    )


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
