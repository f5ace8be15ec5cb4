"""Email login with brute-force protection: after 5 failures an account is locked for 15 minutes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from shien.accounts.models import User

MAX_FAILURES = 5
LOCK = timedelta(minutes=15)


class LockoutBackend(ModelBackend):
    """A guess is counted before the password is checked, so parallel requests share the 5 guesses.

    Counting after the check would let requests that arrive together all pass the lock check before
    any of them is counted (as many guesses as there are workers, every 15 minutes).
    """

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
            _same_work(password)  # no timing hint that the email is unknown
            return None
        now = timezone.now()
        open_now = Q(locked_until__isnull=True) | Q(locked_until__lte=now)
        if not User.objects.filter(open_now, pk=user.pk).update(failed_logins=F("failed_logins") + 1):
            _same_work(password)  # locked: nor that the account is locked
            return None
        user.refresh_from_db(fields=["failed_logins"])
        if user.failed_logins > MAX_FAILURES:  # parallel requests used up the guesses: lock now
            User.objects.filter(pk=user.pk, failed_logins__gt=MAX_FAILURES).update(
                locked_until=now + LOCK, failed_logins=0
            )
            _same_work(password)
            return None
        if not (user.check_password(password or "") and self.user_can_authenticate(user)):
            if user.failed_logins >= MAX_FAILURES:
                User.objects.filter(pk=user.pk).update(locked_until=now + LOCK, failed_logins=0)
            return None
        User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
        return user


def _same_work(password: str | None) -> None:
    User().set_password(password)  # one password hash, like a real check


class ExternalIdentityBackend(ModelBackend):
    """Marks sessions of users who logged in through an OpenID Connect provider (`shien.accounts.oidc`).

    It authenticates nobody by itself: the provider's answer is verified by the callback view, which
    then calls `login(request, user, backend=...)` with this backend.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> User | None:
        return None
