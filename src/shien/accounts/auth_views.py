"""Login pages: password (+ TOTP code when enabled), OpenID Connect, and the security settings page.

A user with two-factor login enabled is not logged in after the password (or the external provider):
the session only holds a pending login (user id, backend, where to go, 10 minutes), and Django's
`login()` runs after the code is accepted. Until then `@login_required` pages redirect to the login.
The session key changes when the pending login starts and again at `login()` (session fixation).

Linking an external identity to an existing user found by its email (`oidc.resolve`, link=True):
sign-up now confirms the address by mail, but an account may have been made another way (by an
administrator, or before confirmation existed) with a victim's address and someone else's password
(pre-account takeover). Such a user (one with a password) is therefore linked only after a login with that
password (`LINK_KEY`, completed in `_finish`); a user with 2FA and no password links after its code,
even when the provider says it did multi-factor itself.
"""

from __future__ import annotations

import logging
from typing import Any

import django_otp
from django.contrib import messages
from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView as DjangoLoginView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from shien.accounts import oidc, throttle, twofactor
from shien.accounts.models import User
from shien.accounts.selectors import home, request_user
from shien.core.errors import DomainError, http_status
from shien.rules import clock

logger = logging.getLogger(__name__)

PENDING_KEY = "two_factor_pending"
LINK_KEY = "oidc_pending_link"  # an external identity to link once the user's password is given
PENDING_TTL = 600  # seconds between the first and the second step
BACKUP_CODES_KEY = "two_factor_new_backup_codes"
OIDC_BACKEND = "shien.accounts.backends.ExternalIdentityBackend"


def _safe_next(request: HttpRequest, url: str) -> str:
    """The page asked for, if it is on this site; '' otherwise (the user's home, once known)."""
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return ""


def _start_pending(
    request: HttpRequest, user: User, backend: str, next_url: str, via_oidc: Any = None
) -> None:
    request.session.cycle_key()  # a session id known before the password is worth nothing after it
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "backend": backend,
        "next": next_url,
        "at": clock.now().timestamp(),
        "oidc": via_oidc,
    }


def _pending(request: HttpRequest) -> tuple[dict[str, Any], User] | None:
    data = request.session.get(PENDING_KEY)
    if not data or clock.now().timestamp() - data.get("at", 0) > PENDING_TTL:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=data["user_id"], is_active=True).first()
    return (data, user) if user is not None else None


def _start_link(request: HttpRequest, result: oidc.Login) -> None:
    request.session[LINK_KEY] = {
        "user_id": result.user.pk,
        "oidc": oidc.login_to_session(result),
        "at": clock.now().timestamp(),
    }


def _take_link(request: HttpRequest, user: User, backend: str) -> oidc.Login | None:
    """The pending link of this user, if any (taken out of the session whoever logs in)."""
    data = request.session.pop(LINK_KEY, None)
    if (
        not data
        or backend == OIDC_BACKEND
        or data.get("user_id") != user.pk
        or clock.now().timestamp() - data.get("at", 0) > PENDING_TTL
    ):
        return None
    return oidc.login_from_session(user, data["oidc"], "")


def _finish(
    request: HttpRequest, user: User, backend: str, next_url: str, device: Any = None
) -> HttpResponse:
    """Log in (a new session key), remember the verified device, prompt staff to enable 2FA."""
    link = _take_link(request, user, backend)
    login(request, user, backend=backend)
    if device is not None:
        django_otp.login(request, device)
    if link is not None:
        try:
            oidc.record_login(link, by="password")
        except oidc.OIDCError as exc:
            messages.error(request, exc.message)
        else:
            name = oidc.provider_name()
            messages.success(request, f"{name}と連携しました。次回から{name}でログインできます")
    if twofactor.two_factor_recommended(user):
        messages.warning(
            request,
            "職員（審査員・事務局・経済産業局）の方は2段階認証の設定をお勧めします。"
            "マイページの「セキュリティ設定」から設定できます",
        )
    return redirect(_safe_next(request, next_url) or home(user)[0])


class LoginView(DjangoLoginView):
    """Email and password; then, for users with a confirmed TOTP device, the code step.

    (Django's LoginView already is never_cache, csrf_protect and sensitive_post_parameters.)
    """

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        next_url = self.get_redirect_url()  # '' without a ?next=: the user's own home (`_finish`)
        if twofactor.has_two_factor(user):
            _start_pending(self.request, user, user.backend, next_url)
            return redirect("login-verify")
        return _finish(self.request, user, user.backend, next_url)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {
            "oidc_enabled": oidc.enabled(),
            "oidc_provider_name": oidc.provider_name(),
        }


@sensitive_post_parameters("code")
@never_cache
def login_verify(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a backup code."""
    found = _pending(request)
    if found is None:
        messages.info(request, "もう一度メールアドレスとパスワードでログインしてください")
        return redirect("login")
    data, user = found
    error, status = "", 200
    if request.method == "POST":
        try:
            verified = twofactor.verify_code(user=user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error, status = exc.message, http_status(exc)
            if exc.code == "locked":
                request.session.pop(PENDING_KEY, None)
        else:
            request.session.pop(PENDING_KEY, None)
            if data.get("oidc"):
                try:
                    external = oidc.login_from_session(user, data["oidc"], data["next"])
                    oidc.record_login(external, by="totp")
                except oidc.OIDCError as exc:
                    return _oidc_error(request, exc)
            if verified.backup_code:
                left = twofactor.backup_codes_left(user)
                messages.warning(
                    request,
                    f"バックアップコードを使いました（残り{left}個）。"
                    "少なくなったらセキュリティ設定で作り直してください",
                )
            return _finish(request, user, data["backend"], data["next"], verified.device)
    return render(
        request,
        "registration/login_verify.html",
        {"error": error, "locked": status == 429 and PENDING_KEY not in request.session},
        status=status,
    )


# --- OpenID Connect ---------------------------------------------------------------------------


def _oidc_error(request: HttpRequest, exc: oidc.OIDCError) -> HttpResponse:
    return render(
        request,
        "registration/oidc_error.html",
        {"message": exc.message, "code": exc.code, "provider_name": oidc.provider_name()},
        status=http_status(exc),
    )


@never_cache
def oidc_start(request: HttpRequest) -> HttpResponseBase:
    if not oidc.enabled():
        raise Http404
    next_url = _safe_next(request, request.GET.get("next", ""))
    try:
        return redirect(oidc.authorization_url(request, next_url))
    except oidc.OIDCError as exc:
        return _oidc_error(request, exc)
    except Exception:  # never a 500 page in the middle of a login
        logger.exception("OIDC start failed")
        return _oidc_error(request, _unexpected())


def _unexpected() -> oidc.OIDCError:
    return oidc.OIDCError("unexpected", "ログインの処理中に問題が起きました。もう一度お試しください")


@never_cache
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404
    try:
        result = oidc.callback(request)
        if result.link and result.user.has_usable_password():
            _start_link(request, result)
            name = oidc.provider_name()
            messages.info(
                request,
                f"{name}の確認済みメールアドレス（{result.email}）の利用者がすでに登録されています。"
                f"{name}と連携するため、一度だけ、この利用者のパスワードでログインしてください",
            )
            return redirect(f"{reverse('login')}?{urlencode({'next': result.next_url})}")
        if twofactor.has_two_factor(result.user) and (not result.provider_mfa or result.link):
            _start_pending(request, result.user, OIDC_BACKEND, result.next_url, oidc.login_to_session(result))
            return redirect("login-verify")
        oidc.record_login(result)
    except oidc.OIDCError as exc:
        return _oidc_error(request, exc)
    except Exception:  # never a 500 page in the middle of a login
        logger.exception("OIDC callback failed")
        return _oidc_error(request, _unexpected())
    return _finish(request, result.user, OIDC_BACKEND, result.next_url)


# --- セキュリティ設定 --------------------------------------------------------------------------


@login_required
@never_cache
def security(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    return render(request, "accounts/security.html", _security_context(user))


def _security_context(user: User, **extra: Any) -> dict[str, Any]:
    device = twofactor.totp_device(user)
    return {
        "device": device,
        "backup_codes_left": twofactor.backup_codes_left(user) if device else 0,
        "recommended": twofactor.two_factor_recommended(user),
        "identities": user.external_identities.order_by("created_at"),
        "oidc_provider_name": oidc.provider_name(),
        **extra,
    }


RECENT_LOGIN = 600  # seconds: an account without a password sets up 2FA only this soon after logging in


@login_required
@require_POST
@sensitive_post_parameters("password")
def totp_setup(request: HttpRequest) -> HttpResponse:
    """Setting up 2FA ends every other session, so it asks who is there first: the password (counted
    like a login, so a stolen session cannot guess it), or a fresh login for an account without one."""
    user = request_user(request)
    if user.has_usable_password():
        checked = authenticate(request, username=user.email, password=request.POST.get("password", "")[:200])
        if checked is None or checked.pk != user.pk:
            refused = getattr(request, "axes_locked_out", False)  # throttled like a login (django-axes)
            error = (
                throttle.message(request, {"username": user.email})
                if refused
                else "パスワードが正しくありません（5回続けて誤ると15分間入力できなくなります）"
            )
            context = _security_context(user, setup_error=error)
            return render(request, "accounts/security.html", context, status=429 if refused else 400)
    elif user.last_login is None or (clock.now() - user.last_login).total_seconds() > RECENT_LOGIN:
        context = _security_context(
            user, setup_error="安全のため、ログアウトしてもう一度ログインしてから設定してください"
        )
        return render(request, "accounts/security.html", context, status=400)
    try:
        twofactor.totp_setup(user=user)
    except DomainError as exc:
        messages.info(request, exc.message)
        return redirect("security")
    return redirect("totp-enable")


@login_required
@never_cache
@sensitive_post_parameters("code")
def totp_enable(request: HttpRequest) -> HttpResponse:
    """The QR code and secret of the pending device, and the code that confirms it."""
    user = request_user(request)
    device = twofactor.pending_totp_device(user)
    if device is None:
        return redirect("security")
    error, status = "", 200
    if request.method == "POST":
        try:
            codes = twofactor.totp_confirm(user=user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error, status = exc.message, http_status(exc)
        else:
            django_otp.login(request, twofactor.totp_device(user))
            update_session_auth_hash(request, user)  # this session stays logged in; the others end
            request.session[BACKUP_CODES_KEY] = codes
            messages.success(request, "2段階認証を有効にしました")
            return redirect("backup-codes")
    context = {"qr": twofactor.qr_data_uri(device), "secret": twofactor.secret_text(device), "error": error}
    return render(request, "accounts/totp_enable.html", context, status=status)


@login_required
@never_cache
def backup_codes(request: HttpRequest) -> HttpResponse:
    """New backup codes, shown once (taken out of the session)."""
    codes = request.session.pop(BACKUP_CODES_KEY, None)
    if not codes:
        messages.info(
            request, "バックアップコードは作成したときに一度だけ表示します。必要なら作り直してください"
        )
        return redirect("security")
    return render(request, "accounts/backup_codes.html", {"codes": codes})


@login_required
@require_POST
@sensitive_post_parameters("code")
def backup_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    try:
        codes = twofactor.backup_codes_regenerate(user=user, code=request.POST.get("code", ""))
    except DomainError as exc:
        context = _security_context(user, regenerate_error=exc.message)
        return render(request, "accounts/security.html", context, status=http_status(exc))
    request.session[BACKUP_CODES_KEY] = codes
    return redirect("backup-codes")


@login_required
@require_POST
@sensitive_post_parameters("code")
def totp_disable(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    try:
        twofactor.disable(user=user, code=request.POST.get("code", ""))
    except DomainError as exc:
        context = _security_context(user, disable_error=exc.message)
        return render(request, "accounts/security.html", context, status=http_status(exc))
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    update_session_auth_hash(request, user)  # this session stays logged in; the others end
    messages.success(request, "2段階認証を無効にしました")
    return redirect("security")
