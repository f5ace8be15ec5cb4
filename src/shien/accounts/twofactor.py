"""Two-factor login: a TOTP device (認証アプリ) and ten single-use backup codes (django-otp).

A user has at most one confirmed `TOTPDevice` (name "default") and, with it, one `StaticDevice`
("backup") holding the unused backup codes. Enabling is two steps: `totp_setup` makes an unconfirmed
device whose secret the user scans; `totp_confirm` checks a code from the app, confirms the device and
issues the backup codes (returned once, never shown again).

Wrong codes: django-otp's exponential back-off (1, 2, 4, 8 … seconds) runs on the TOTP device, and
that one counter also counts wrong backup codes (`OTP_STATIC_THROTTLE_FACTOR = 0`, so the static
device does not keep a second one). The 5th wrong code in a row locks the account's login for 15
minutes (`User.locked_until`, refused by `backends.EmailBackend`). The counter lives on the device, not
on the user, so a correct password does not reset it.

Backup codes are stored as keyed hashes (HMAC-SHA256 with SECRET_KEY, `_digest`), never as
themselves: a copy of the database or an admin screen does not show usable codes. They are checked
under SECRET_KEY and SECRET_KEY_FALLBACKS, so a key rotation done the Django way keeps them working.

Enabling, disabling, new backup codes, the use of a backup code and a lock are audited.

Turning two-factor login on or off ends the user's other sessions (another browser, or a session
someone else stole): it advances `User.session_epoch`, which is part of the session hash Django checks
on every request, so every other session stops matching; the view that made the change keeps its own
session with `update_session_auth_hash`. Ending the others is audited too (`auth.sessions_end`).
"""

from __future__ import annotations

import base64
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.crypto import salted_hmac
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shien.accounts.models import Role, User
from shien.core.errors import DomainError
from shien.core.notifications import notify
from shien.core.services import audit_record
from shien.rules import clock

BACKUP_CODES = 10
MAX_FAILURES = 5  # wrong codes in a row before login is locked
LOCK = timedelta(minutes=15)
STAFF_ROLES = (Role.REVIEWER, Role.SECRETARIAT, Role.BUREAU)  # prompted (not forced) to enable 2FA


def totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed TOTP device: with one, login asks for a code after the password."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def backup_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_recommended(user: User) -> bool:
    """Staff (reviewers, 事務局, 経済産業局) without 2FA see a notice."""
    return user.has_any_role(STAFF_ROLES) and not has_two_factor(user)


# --- the sessions of a user ------------------------------------------------------------------


def _sessions_end(user: User, cause: str) -> None:
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    reason = "2段階認証の設定を変更したため、ほかのブラウザ・端末のログインを終了しました"
    audit = audit_record(
        actor=user, action="auth.sessions_end", obj=user, reason=reason, data={"cause": cause}
    )
    done = "有効" if cause == "otp.enable" else "無効"
    notify(  # the account's owner hears of it by email, wherever the change was made
        user=user,
        kind="security.two_factor",
        title=f"2段階認証を{done}にしました",
        body=f"あなたの shien のアカウントで2段階認証が{done}になり、ほかのブラウザ・端末のログインは終了しました。"
        "心当たりがない場合は、すぐにパスワードを再設定し、事務局にご連絡ください。",
        url="/accounts/security/",
        key=f"audit:{audit.pk}",
    )


# --- enabling ---------------------------------------------------------------------------------


@transaction.atomic
def totp_setup(*, user: User) -> TOTPDevice:
    """The unconfirmed device to scan; a second click reuses it (one device per user)."""
    User.objects.select_for_update().get(pk=user.pk)  # serializes double clicks
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise DomainError("already_enabled", "2段階認証はすでに有効です")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="default", confirmed=False)
    return device


def pending_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four (for apps that cannot scan)."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an SVG QR code in a data: URI (CSP img-src allows data:)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def totp_confirm(*, user: User, code: str) -> list[str]:
    """Confirm the pending device with a code from the app; returns the new backup codes (shown once)."""
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise DomainError("already_enabled", "2段階認証はすでに有効です")
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise DomainError("no_device", "設定をやり直してください（QRコードの表示からやり直します）")
        allowed, info = device.verify_is_allowed()
        ok = allowed and device.verify_token(_normalize(code))  # a wrong code is counted and saved
        codes: list[str] = []
        if ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _new_backup_codes(user)
            audit_record(actor=user, action="otp.enable", obj=user, data={"device": device.persistent_id})
            _sessions_end(user, "otp.enable")
    if not allowed:
        raise _throttled(info)
    if not ok:
        raise DomainError(
            "wrong_code",
            "確認コードが正しくありません。認証アプリに表示されている6桁の数字を入力してください",
        )
    return codes


def _new_backup_codes(user: User) -> list[str]:
    static, _ = StaticDevice.objects.get_or_create(user=user, name="backup", defaults={"confirmed": True})
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=_digest(c)) for c in codes)
    return codes


BACKUP_CODE = re.compile(r"[a-z2-7]{8}")  # StaticToken.random_token(): 5 random bytes in base32


def _digest(code: str, secret: str | None = None) -> str:
    """What is stored for a backup code: 16 base32 characters (80 bits) of its HMAC under SECRET_KEY."""
    mac = salted_hmac("shien.accounts.twofactor.backup_code", code, secret=secret, algorithm="sha256")
    return base64.b32encode(mac.digest()).decode()[:16].lower()


def _use_backup_code(static: StaticDevice, code: str) -> bool:
    """Spend the backup code if it is one of the device's (the caller holds the user's row lock)."""
    if not BACKUP_CODE.fullmatch(code):
        return False
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    match = static.token_set.filter(token__in=[_digest(code, s) for s in secrets]).first()
    if match is None:
        return False
    match.delete()
    static.set_last_used_timestamp(commit=True)
    return True


# --- verifying a code (login, disabling, new backup codes) -------------------------------------


@dataclass(frozen=True)
class Verified:
    device: Device
    backup_code: bool


def verify_code(*, user: User, code: str) -> Verified:
    """Check a TOTP code (6 digits) or a backup code; wrong ones are throttled and lock after 5.

    Raises DomainError: `locked` (login locked for 15 minutes), `throttled` (wait a few seconds),
    `wrong_code`, `not_enabled`. The failure count is saved even though an error is raised.
    """
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        if current.locked_until and current.locked_until > clock.now():
            error, verified = _locked_error(), None
        else:
            error, verified = _check(user, _normalize(code))
    if error is not None or verified is None:
        raise error or DomainError("wrong_code", "確認コードが正しくありません")
    return verified


def _check(user: User, token: str) -> tuple[DomainError | None, Verified | None]:
    """Inside the caller's transaction (rows locked); returns the error so that counts are saved."""
    totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    if totp is None:
        return DomainError("not_enabled", "2段階認証は設定されていません"), None
    allowed, info = totp.verify_is_allowed()
    if not allowed:
        return _throttled(info), None
    if re.fullmatch(r"\d{6}", token):
        if totp.verify_token(token):  # resets the back-off, or counts the failure
            return None, Verified(totp, backup_code=False)
    else:
        static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if static is not None and _use_backup_code(static, token.lower()):
            totp.throttle_reset()
            left = static.token_set.count()
            audit_record(actor=user, action="otp.backup_code_use", obj=user, data={"left": left})
            return None, Verified(static, backup_code=True)
        totp.throttle_increment()
    if totp.throttling_failure_count >= MAX_FAILURES:
        User.objects.filter(pk=user.pk).update(locked_until=clock.now() + LOCK)
        totp.throttle_reset()
        audit_record(actor=user, action="auth.lock", obj=user, reason="確認コードを5回続けて誤りました")
        return _locked_error(), None
    left = MAX_FAILURES - totp.throttling_failure_count
    return DomainError(
        "wrong_code", f"確認コードが正しくありません。あと{left}回誤ると15分間ログインできなくなります"
    ), None


def _locked_error() -> DomainError:
    return DomainError(
        "locked", "確認コードを続けて誤ったため、15分間ログインできません。時間をおいてからやり直してください"
    )


def _throttled(info: dict[str, object] | None) -> DomainError:
    until = (info or {}).get("locked_until")
    seconds = 1
    if until is not None:
        seconds = max(1, int((until - clock.now()).total_seconds()) + 1)  # type: ignore[operator]
    return DomainError(
        "throttled", f"確認コードを続けて誤りました。{seconds}秒ほど待ってから入力してください"
    )


def _normalize(code: str) -> str:
    """Full-width digits, spaces and hyphens are accepted (１２３ ４５６ → 123456)."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", code or ""))


# --- disabling, new backup codes ---------------------------------------------------------------


def disable(*, user: User, code: str) -> None:
    """Turn 2FA off; needs a current code (TOTP or backup code)."""
    verify_code(user=user, code=code)
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        audit_record(actor=user, action="otp.disable", obj=user)
        _sessions_end(user, "otp.disable")


def backup_codes_regenerate(*, user: User, code: str) -> list[str]:
    """New backup codes (the old ones stop working); needs a current code."""
    verify_code(user=user, code=code)
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if not has_two_factor(user):
            raise DomainError("not_enabled", "2段階認証は設定されていません")
        codes = _new_backup_codes(user)
        audit_record(actor=user, action="otp.backup_codes_regenerate", obj=user)
    return codes
