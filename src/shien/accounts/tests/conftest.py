"""Fixtures of the login tests: the frozen time of the authenticator app (`totp`, django-otp's clock; the
app's own clock is the root `clock` fixture), codes computed from a device's key, a local OIDC provider."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from shien.accounts.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, Running


class Totp:
    """The time django-otp's TOTP device sees (so that codes do not change in the middle of a test)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 30 * 30 + 5)

    def code(self, device: TOTPDevice, steps: int = 0) -> str:
        """The code the user's authenticator app shows `steps` periods from now."""
        generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        generator.time = self.now + steps * device.step
        return f"{generator.token():0{device.digits}d}"

    def tick(self) -> None:
        """The next 30 s period: a new code (a used code is never accepted twice)."""
        self.now += 30


@pytest.fixture
def totp(monkeypatch: pytest.MonkeyPatch) -> Totp:
    frozen = Totp()
    monkeypatch.setattr("django_otp.plugins.otp_totp.models.time", SimpleNamespace(time=lambda: frozen.now))
    return frozen


@pytest.fixture(autouse=True)
def _mail_limits(settings: Any) -> None:
    """The default limits on mail to typed addresses (whatever the environment says)."""
    settings.MAIL_REQUEST_LIMIT_PER_ADDRESS = 3
    settings.MAIL_REQUEST_LIMIT_PER_CLIENT = 10
    settings.MAIL_REQUEST_WINDOW = 60 * 60
    settings.MAIL_REQUEST_RETENTION = 24 * 60 * 60


def wait_out_throttle() -> None:
    """As if the user waited long enough after a wrong code (django-otp's back-off is 1, 2, 4 … s)."""
    TOTPDevice.objects.update(throttling_failure_timestamp=timezone.now() - timedelta(hours=1))


@pytest.fixture(scope="session")
def running_provider() -> Iterator[Running]:
    running = Running()
    yield running
    running.stop()


@pytest.fixture
def provider(running_provider: Running, settings: Any) -> Provider:
    """The local provider, reset, and the site configured to log in through it."""
    p = running_provider.provider
    p.reset()
    cache.clear()  # discovery and JWKS are cached per URL
    settings.OIDC_ENABLED = True
    settings.OIDC_PROVIDER_NAME = "GビズID"
    settings.OIDC_OP_ISSUER = p.url
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    return p
