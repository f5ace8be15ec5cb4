"""Email login with brute-force protection: after 5 failures an account is locked for 15 minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from shien.accounts.models import User

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)


class LockoutBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = (username or kwargs.get("email") or "").strip().lower()
        user = User.objects.filter(email=email).first()
        if user is None:
            User().set_password(
                password
            )  # same work as a real check: no timing hint that the email is unknown
            return None
        now = timezone.now()
        if user.locked_until and user.locked_until > now:
            return None
        if not (user.check_password(password or "") and self.user_can_authenticate(user)):
            User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
            user.refresh_from_db(fields=["failed_logins"])
            if user.failed_logins >= MAX_FAILURES:
                User.objects.filter(pk=user.pk).update(locked_until=now + LOCK, failed_logins=0)
            return None
        if user.failed_logins or user.locked_until:
            User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        return user


class ExternalIdentityBackend(ModelBackend):
    """Marks sessions of users who logged in through an OpenID Connect provider (`shien.accounts.oidc`).

    It authenticates nobody by itself: the provider's answer is verified by the callback view, which
    then calls `login(request, user, backend=...)` with this backend.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> User | None:
        return None
