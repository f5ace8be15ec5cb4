"""The header's unread badge: `{% load inbox %}{% unread_badge %}` (no settings change needed).

Renders an element with id `unread-badge` even when nothing is unread, so htmx can replace it
out of band after a message is marked read. Anonymous visitors cost no query.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from shien.accounts.models import Role
from shien.core.notifications import unread_count

register = template.Library()


def badge(count: int, *, oob: bool = False) -> SafeString:
    swap = mark_safe(' hx-swap-oob="true"' if oob else "")  # noqa: S308 (a constant)
    if not count:
        return format_html('<span id="unread-badge"{}></span>', swap)
    return format_html(
        '<span id="unread-badge"{}> <span class="badge">{}<span class="visually-hidden">件の未読</span></span></span>',
        swap,
        count,
    )


@register.simple_tag(takes_context=True)
def unread_badge(context: Any, oob: bool = False, count: int | None = None) -> SafeString | str:
    user = context.get("user")
    if count is None:
        if user is None or not user.is_authenticated:
            return ""
        count = unread_count(user)
    return badge(count, oob=oob)


@register.simple_tag(takes_context=True)
def office_link(context: dict[str, Any]) -> SafeString:
    """The header link to the back office, for the secretariat, the bureau and reviewers only."""
    user = context.get("user")
    if not getattr(user, "is_authenticated", False):
        return mark_safe("")  # noqa: S308 (empty)
    roles = set(user.roles.values_list("role", flat=True))  # type: ignore[union-attr]
    if roles & {Role.SECRETARIAT, Role.BUREAU}:
        return format_html('<li><a href="{}">事務局</a></li>', reverse("office-home"))
    if Role.REVIEWER in roles:
        return format_html('<li><a href="{}">審査</a></li>', reverse("office-reviews"))
    return mark_safe("")  # noqa: S308 (empty)
