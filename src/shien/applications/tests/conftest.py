"""Fixtures shared by the applications tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import Clock

from shien.accounts.models import Role, User
from shien.applications.tests.factories import user
from shien.applications.tests.test_applicant_builders import freeze
from shien.rules.registry import JST


@pytest.fixture
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    """The clock in ものづくり 18次's open window, files under tmp_path (use it where a module has no
    autouse clock of its own: `@pytest.mark.usefixtures("frozen")`)."""
    freeze(clock, settings, tmp_path)


@pytest.fixture
def office_day(clock: Clock, settings: Any, tmp_path: Any) -> None:
    """The clock in ものづくり 18次's review (2024-03-26 10:00 JST), files under tmp_path."""
    clock.set(datetime(2024, 3, 26, 10, 0, tzinfo=JST))
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def secretariat() -> User:
    return user("s@example.jp", Role.SECRETARIAT)
