"""Login throttling with django-axes: per address, and per account from one address.

Axes records each failed login (`AccessAttempt`: account, address, count, time of the last failure)
and its backend (`AxesStandaloneBackend`, first in AUTHENTICATION_BACKENDS) refuses a throttled
attempt before any password is hashed. The limits (settings):

- one address, any accounts: `AXES_IP_FAILURE_LIMIT` failures (a script trying many accounts);
- one account from one address: `AXES_FAILURE_LIMIT` (5) failures (guessing one password).

There is deliberately no limit on an account alone: a stranger who knows an address (the
secretariat's) could otherwise lock its owner out with 5 requests. The owner, logging in from their own
address, is never refused because of another address's failures. A success clears the count of that
account from that address only (not the address's count: logging in to an account of one's own does
not buy more guesses at others). Failures are forgotten 15 minutes after the last one.

Requests that pass the check together (parallel workers) are each checked before any of them is
counted, so a burst gets at most one extra guess per worker process.

Two-factor codes keep their own lock (`twofactor.verify_code`, `User.locked_until`).
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse

ADDRESS_MESSAGE = (
    "この接続元からのログインの失敗が多いため、15分間ログインを受け付けません。"
    "時間をおいてからやり直してください。"
)
ACCOUNT_MESSAGE = (
    "このメールアドレスでのログインに続けて失敗したため、この接続元からは15分間ログインできません。"
    "パスワードを忘れた場合は、再設定してください。"
)


def username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The account as the login form or `authenticate()` names it, as the backend compares it."""
    value = (credentials or {}).get("username") or (credentials or {}).get("email")
    if value is None and request is not None:
        value = request.POST.get("username")
    return str(value).strip().lower()[:254] if value else None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind TRUSTED_PROXY_COUNT proxies, the address the outermost trusted proxy saw
    (counted from the right of X-Forwarded-For, so a client cannot choose it by sending the header)."""
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            return hops[-count][:45]
    return request.META.get("REMOTE_ADDR") or None


def failures(request: HttpRequest, credentials: dict[str, Any] | None) -> tuple[int, int]:
    """(failures from this address on any accounts, failures of this account from this address)
    within the cool-off."""
    recent = AccessAttempt.objects.filter(
        ip_address=getattr(request, "axes_ip_address", None),
        attempt_time__gte=get_cool_off_threshold(request),
    )
    by_address = recent.aggregate(n=Sum("failures_since_start"))["n"] or 0
    account = get_client_username(request, credentials)
    pair = (
        recent.filter(username=account).aggregate(n=Sum("failures_since_start"))["n"] or 0 if account else 0
    )
    return by_address, pair


def address_blocked(by_address: int) -> bool:
    return by_address >= settings.AXES_IP_FAILURE_LIMIT


class ThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit of its own for the address (axes has one limit for all)."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        by_address, pair = failures(request, credentials)
        return max(pair, settings.AXES_FAILURE_LIMIT) if address_blocked(by_address) else pair

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        account = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=account, ip_address=getattr(request, "axes_ip_address", None)
        ).delete()
        return count


def message(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """Why a throttled attempt was refused (the same whether or not the account exists)."""
    by_address, _ = failures(request, credentials)
    return ADDRESS_MESSAGE if address_blocked(by_address) else ACCOUNT_MESSAGE


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The login page again, with why and for how long, status 429. Another page that checks a password
    (the security settings) shows the refusal itself: its own response, with status 429."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.shortcuts import render

    match = getattr(request, "resolver_match", None)
    if original_response is not None and match is not None and match.url_name != "login":
        original_response.status_code = 429
        return original_response
    form = AuthenticationForm(request, data=None, initial={"username": username(request, credentials) or ""})
    context = {
        "form": form,
        "throttled": message(request, credentials),
        "next": request.POST.get("next", "") if request.method == "POST" else "",
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(15 * 60)
    return response
