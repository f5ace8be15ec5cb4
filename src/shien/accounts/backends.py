"""Email login. Throttling is django-axes' (`shien.accounts.throttle`), which runs before this backend."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from shien.accounts.models import User
from shien.rules import clock


class EmailBackend(ModelBackend):
    """Email (any case) and password. Django's ModelBackend hashes the password even for an unknown
    address, so the time taken does not tell whether an account exists. An account whose login is
    locked after wrong two-factor codes (`User.locked_until`) is refused, even with the password."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = (username or kwargs.get("email") or "").strip().lower()
        user = super().authenticate(request, username=email, password=password)
        if user is None or (user.locked_until is not None and user.locked_until > clock.now()):
            return None
        return user  # type: ignore[return-value]


class ExternalIdentityBackend(ModelBackend):
    """Marks sessions of users who logged in through an OpenID Connect provider (`shien.accounts.oidc`).

    It authenticates nobody by itself: the provider's answer is verified by the callback view, which
    then calls `login(request, user, backend=...)` with this backend.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> User | None:
        return None
