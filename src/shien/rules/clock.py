"""The one clock: every read of the current time, in every layer, is `clock.now()` (or `clock.today()`).

It lives at the bottom (`rules`, no Django) because the rules need "now" too (an estimate without a
date, the rounds open today), and every layer above may import the bottom one. The moment is aware
and in Japan time, as every date of the app is (`engine.now` before this module; Django's
`timezone.now()` gives the same instant in UTC). Django's own timestamps (`auto_now`,
`default=timezone.now` on model fields, sessions, django-axes, django-otp, the task queue's worker)
keep Django's clock: they are the same instant unless a test freezes this one.

Tests freeze and move it with the `clock` fixture (the root conftest.py), never by patching a module:
`freeze` sets the moment every `now()` answers, in every thread (the live server of the browser
tests), until `thaw`. Code imports the module (`from shien.rules import clock`) or its functions alike.
"""

from __future__ import annotations

from datetime import date, datetime

from shien.rules.registry import JST

_frozen: datetime | None = None


def now() -> datetime:
    """The current moment, aware, in Japan time (the frozen one while a test holds the clock)."""
    return _frozen if _frozen is not None else datetime.now(tz=JST)


def today() -> date:
    """Today's date in Japan."""
    return now().date()


def freeze(at: datetime) -> None:
    """From now on `now()` answers `at` (aware; kept in Japan time). For tests only."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    _frozen = at.astimezone(JST)


def thaw() -> None:
    """Back to the wall clock."""
    global _frozen
    _frozen = None
