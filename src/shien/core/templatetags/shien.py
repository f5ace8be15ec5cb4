"""Template filters: yen, 万円, rates, 和暦 with 西暦."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template

from shien.rules import text

register = template.Library()


@register.filter
def yen(value: Any) -> str:
    return "—" if value is None or value == "" else text.yen(int(value))


@register.filter
def man(value: Any) -> str:
    return "—" if value is None or value == "" else text.man_yen(int(value))


@register.filter
def wareki(value: Any) -> str:
    if isinstance(value, datetime):
        return text.wareki_datetime(value)
    if isinstance(value, date):
        return text.wareki_date(value)
    if isinstance(value, str) and value:
        return (
            text.wareki_datetime(datetime.fromisoformat(value))
            if "T" in value
            else text.wareki_date(date.fromisoformat(value))
        )
    return "未定"


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key, "") if hasattr(mapping, "get") else ""
