"""Reads of the programs app."""

from __future__ import annotations

from django.db.models import QuerySet

from shien.programs.models import News


def news_list(*, program: str | None = None, limit: int = 20) -> QuerySet[News]:
    qs = News.objects.all()
    if program:
        qs = qs.filter(program=program)
    return qs[:limit]
