"""Pages of the core app: the home page and the health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from shien.programs import pages
from shien.programs.selectors import news_list
from shien.rules.text import wareki_datetime


def home(request: HttpRequest) -> HttpResponse:
    at = pages.minute()
    context = {
        "programs": pages.programs_view(at),
        "highlights": pages.highlights(at),
        "news": news_list(limit=10),
        "now": wareki_datetime(at),
    }
    return render(request, "core/home.html", context)


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
