"""Limits of free text (reasons, notes, comments, declarations): one rule for every path in.

Checked in the services (so pages, the API and the CLI all refuse the same way, with a Japanese
message naming the field and the count, and nothing is cut short silently), in the forms' maxlength,
and in the database by a check constraint on each TextField (`Length(field) <= TEXT_MAX`). The wording
and what a refused page shows again of the value (`echo`: the limit and 200 characters more, so a
pasted megabyte is not sent back whole) are `rules.text`'s, shared with the accounts forms.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from shien.core.errors import DomainError
from shien.rules.text import echo, too_long

__all__ = ["LINE_MAX", "TEXT_MAX", "echo", "free_text", "length_limit", "too_long", "typed"]

TEXT_MAX = 2000  # 差戻し・不採択・取下げの理由、計画変更の理由と判断、利益相反の申告、様式4の支援内容
LINE_MAX = 200  # one line: an expense line's description, an inspection note


def free_text(value: object, *, label: str, max_length: int = TEXT_MAX) -> str:
    """The text without surrounding spaces; DomainError `too_long` if it is longer than `max_length`."""
    text = str(value or "").strip()
    if len(text) > max_length:
        raise DomainError("too_long", too_long(label, max_length, len(text)))
    return text


def typed(data: Mapping[str, str], max_length: int = TEXT_MAX) -> dict[str, str]:
    """What a refused page shows again of a posted form (without the CSRF token), each value `echo`ed."""
    return {key: echo(str(value), max_length) for key, value in data.items() if key != "csrfmiddlewaretoken"}


def length_limit(field: str, max_length: int = TEXT_MAX) -> models.CheckConstraint:
    """The database's own check that `field` holds at most `max_length` characters."""
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), max_length), name=f"%(class)s_{field}_max_length"
    )
