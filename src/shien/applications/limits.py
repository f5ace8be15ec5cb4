"""Limits of free text (reasons, notes, comments, declarations): one rule for every path in.

Checked in the services (so pages, the API and the CLI all refuse the same way, with a Japanese
message naming the field and the count, and nothing is cut short silently), in the forms' maxlength,
and in the database by a check constraint on each TextField (`Length(field) <= TEXT_MAX`).
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from shien.rules.errors import DomainError

TEXT_MAX = 2000  # 差戻し・不採択・取下げの理由、計画変更の理由と判断、利益相反の申告、様式4の支援内容
LINE_MAX = 200  # one line: an expense line's description, an inspection note


def free_text(value: object, *, label: str, max_length: int = TEXT_MAX) -> str:
    """The text without surrounding spaces; DomainError `too_long` if it is longer than `max_length`."""
    text = str(value or "").strip()
    if len(text) > max_length:
        raise DomainError(
            "too_long", f"{label}は{max_length:,}文字以内で入力してください（いまは{len(text):,}文字）"
        )
    return text


def length_limit(field: str, max_length: int = TEXT_MAX) -> models.CheckConstraint:
    """The database's own check that `field` holds at most `max_length` characters."""
    return models.CheckConstraint(
        condition=LessThanOrEqual(Length(field), max_length), name=f"%(class)s_{field}_max_length"
    )
