"""Two-factor login: enabling with a code, the two-step login, backup codes, throttling and lock, disabling."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shien.accounts import twofactor
from shien.accounts.models import Role, User
from shien.accounts.tests.conftest import Totp, wait_out_throttle
from shien.applications.tests.factories import user
from shien.core.models import AuditLog

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def enabled(u: User, totp: Totp) -> tuple[TOTPDevice, list[str]]:
    """A user with 2FA on (as through the security page); the authenticator moves to the next code."""
    device = twofactor.totp_setup(user=u)
    codes = twofactor.totp_confirm(user=u, code=totp.code(device))
    totp.tick()
    device.refresh_from_db()
    return device, codes


def password_step(client: Client, email: str, next_url: str = "") -> str:
    response = client.post("/accounts/login/", {"username": email, "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    return response.url


def test_enabling_needs_the_right_code_and_shows_the_backup_codes_once(client: Client, totp: Totp) -> None:
    u = user("taro@example.jp")
    assert password_step(client, "taro@example.jp") == "/mypage/"  # no 2FA yet: one step
    page = client.get("/accounts/security/").content.decode()
    assert "未設定" in page and "2段階認証を設定する" in page
    wrong = client.post("/accounts/security/totp/setup/", {"password": "guess"})  # a stolen session
    assert wrong.status_code == 400 and "パスワードが正しくありません" in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=u).exists()
    from axes.models import AccessAttempt

    counted = AccessAttempt.objects.get(username="taro@example.jp")
    assert counted.failures_since_start == 1  # counted like a login: a stolen session cannot guess on and on
    for _ in range(2):  # a double click makes one device
        response = client.post("/accounts/security/totp/setup/", {"password": PASSWORD})
        assert response.url == "/accounts/security/totp/"
    device = TOTPDevice.objects.get(user=u)
    assert not device.confirmed
    page = client.get("/accounts/security/totp/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    svg = base64.b64decode(re.search(r'data:image/svg\+xml;base64,([^"]+)"', page).group(1))
    assert svg.startswith(b"<svg") and b"<path" in svg
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key  # the key the app gets

    wrong = "000000" if totp.code(device) != "000000" else "111111"
    response = client.post("/accounts/security/totp/", {"code": wrong})
    assert response.status_code == 400 and "確認コードが正しくありません" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    wait_out_throttle()
    response = client.post("/accounts/security/totp/", {"code": totp.code(device)})
    assert response.status_code == 302 and response.url == "/accounts/security/backup-codes/"
    device.refresh_from_db()
    assert device.confirmed
    page = client.get(response.url).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(codes) == 10 and {twofactor._digest(c) for c in codes} == stored  # kept as hashes only
    assert client.get(response.url).status_code == 302  # shown once
    assert "有効" in client.get("/accounts/security/").content.decode()
    assert AuditLog.objects.filter(action="otp.enable", object_id=str(u.pk), actor=u).exists()
    with pytest.raises(Exception, match="すでに有効"):
        twofactor.totp_setup(user=u)


def test_login_asks_for_the_code_and_is_not_logged_in_before(client: Client, totp: Totp) -> None:
    u = user("hanako@example.jp")
    device, _ = enabled(u, totp)
    assert password_step(client, "hanako@example.jp", "/accounts/security/") == "/accounts/login/verify/"
    assert "_auth_user_id" not in client.session
    mypage = client.get("/mypage/")
    assert mypage.status_code == 302 and mypage.url.startswith("/accounts/login/")  # @login_required holds
    page = client.get("/accounts/login/verify/")
    assert "確認コード" in page.content.decode() and page["Cache-Control"].startswith("max-age=0")
    response = client.post("/accounts/login/verify/", {"code": "12345"})
    assert response.status_code == 400 and "あと4回" in response.content.decode()
    assert client.get("/mypage/").status_code == 302
    wait_out_throttle()
    code = totp.code(device)
    response = client.post("/accounts/login/verify/", {"code": f"{code[:3]} {code[3:]}"})  # spaces are fine
    assert response.status_code == 302 and response.url == "/accounts/security/"  # `next` is kept
    assert client.get("/mypage/").status_code == 200
    assert client.session["_auth_user_id"] == str(u.pk)
    assert client.session["otp_device_id"] == device.persistent_id
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
    # the same code is not accepted twice (another browser trying it now)
    other = Client()
    password_step(other, "hanako@example.jp")
    assert other.post("/accounts/login/verify/", {"code": code}).status_code == 400


def test_a_backup_code_works_once(client: Client, totp: Totp) -> None:
    u = user("backup@example.jp")
    _, codes = enabled(u, totp)
    password_step(client, "backup@example.jp")
    response = client.post("/accounts/login/verify/", {"code": codes[0].upper()})
    assert response.status_code == 302 and response.url == "/mypage/"
    assert "残り9個" in client.get("/mypage/").content.decode()
    assert AuditLog.objects.filter(action="otp.backup_code_use", data__left=9).count() == 1
    client.post("/accounts/logout/")
    password_step(client, "backup@example.jp")
    response = client.post("/accounts/login/verify/", {"code": codes[0]})
    assert response.status_code == 400 and "_auth_user_id" not in client.session


def test_wrong_codes_are_throttled_and_the_fifth_locks_login(client: Client, totp: Totp) -> None:
    u = user("brute@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "brute@example.jp")
    assert client.post("/accounts/login/verify/", {"code": "999999"}).status_code in (400,)
    at_once = client.post("/accounts/login/verify/", {"code": totp.code(device)})  # even the right code
    assert at_once.status_code == 429 and "秒ほど待って" in at_once.content.decode()
    wait_out_throttle()
    assert (
        client.post("/accounts/login/verify/", {"code": "zzzzzzzz"}).status_code == 400
    )  # wrong backup code
    # a correct password again does not reset the count of wrong codes
    client = Client()
    password_step(client, "brute@example.jp")
    for left in (2, 1):
        wait_out_throttle()
        response = client.post("/accounts/login/verify/", {"code": "999999"})
        assert f"あと{left}回" in response.content.decode()
    wait_out_throttle()
    locked = client.post("/accounts/login/verify/", {"code": "999999"})
    assert locked.status_code == 429 and "15分間ログインできません" in locked.content.decode()
    u.refresh_from_db()
    assert u.locked_until is not None
    assert AuditLog.objects.filter(action="auth.lock", object_id=str(u.pk)).exists()
    assert client.get("/accounts/login/verify/").status_code == 302  # the pending login is gone
    refused = client.post("/accounts/login/", {"username": "brute@example.jp", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session  # the password is locked too


def test_disabling_needs_a_current_code(client: Client, totp: Totp) -> None:
    u = user("off@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "off@example.jp")
    client.post("/accounts/login/verify/", {"code": totp.code(device)})
    totp.tick()
    response = client.post("/accounts/security/totp/disable/", {"code": "000001"})
    assert response.status_code == 400 and "正しくありません" in response.content.decode()
    assert twofactor.has_two_factor(u)
    wait_out_throttle()
    response = client.post("/accounts/security/totp/disable/", {"code": totp.code(device)})
    assert response.status_code == 302 and not twofactor.has_two_factor(u)
    assert not StaticToken.objects.exists()
    assert AuditLog.objects.filter(action="otp.disable", object_id=str(u.pk)).exists()
    client.post("/accounts/logout/")
    assert password_step(Client(), "off@example.jp") == "/mypage/"  # one step again


def test_turning_two_factor_on_or_off_ends_the_other_sessions(client: Client, totp: Totp) -> None:
    u = user("sessions@example.jp")
    password_step(client, "sessions@example.jp")  # the browser where 2FA is turned on
    other = Client()
    password_step(other, "sessions@example.jp")  # another browser (or a stolen session)
    assert other.get("/mypage/").status_code == 200
    client.post("/accounts/security/totp/setup/", {"password": PASSWORD})
    device = TOTPDevice.objects.get(user=u)
    assert other.get("/mypage/").status_code == 200  # a pending device changes nothing yet
    assert client.post("/accounts/security/totp/", {"code": totp.code(device)}).status_code == 302
    assert client.get("/mypage/").status_code == 200  # this browser stays logged in
    ended = other.get("/mypage/")
    assert ended.status_code == 302 and ended.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in other.session
    audit = AuditLog.objects.get(action="auth.sessions_end", object_id=str(u.pk))
    assert audit.actor == u and audit.data == {"cause": "otp.enable"}

    totp.tick()
    device.refresh_from_db()
    again = Client()  # logs in with the code: unaffected by what came before
    password_step(again, "sessions@example.jp")
    assert again.post("/accounts/login/verify/", {"code": totp.code(device)}).status_code == 302
    assert again.get("/mypage/").status_code == 200 and client.get("/mypage/").status_code == 200
    totp.tick()
    assert client.post("/accounts/security/totp/disable/", {"code": totp.code(device)}).status_code == 302
    assert client.get("/mypage/").status_code == 200
    assert again.get("/mypage/").status_code == 302 and "_auth_user_id" not in again.session
    assert AuditLog.objects.filter(action="auth.sessions_end", data={"cause": "otp.disable"}).count() == 1
    # 新しいバックアップコード changes nothing for the other sessions
    enabled(u, totp)
    third = Client()
    third.force_login(u)
    client.force_login(u)
    code = totp.code(TOTPDevice.objects.get(user=u, confirmed=True))
    assert client.post("/accounts/security/backup-codes/new/", {"code": code}).status_code == 302
    assert third.get("/mypage/").status_code == 200


def test_new_backup_codes_replace_the_old_ones(client: Client, totp: Totp) -> None:
    u = user("regen@example.jp")
    device, old = enabled(u, totp)
    client.force_login(u)
    response = client.post("/accounts/security/backup-codes/new/", {"code": totp.code(device)})
    assert response.url == "/accounts/security/backup-codes/"
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", client.get(response.url).content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditLog.objects.filter(action="otp.backup_codes_regenerate").count() == 1
    with pytest.raises(Exception, match="正しくありません"):
        twofactor.verify_code(user=u, code=old[1])


def test_staff_are_prompted_to_enable_two_factor(client: Client, totp: Totp) -> None:
    user("jimukyoku@example.jp", Role.SECRETARIAT)
    user("owner@example.jp")
    password_step(client, "jimukyoku@example.jp")
    page = client.get("/mypage/").content.decode()
    assert "2段階認証の設定をお勧めします" in page and 'href="/accounts/security/"' in page
    other = Client()
    password_step(other, "owner@example.jp")
    assert "お勧めします" not in other.get("/mypage/").content.decode()


def test_setting_up_asks_who_is_there_and_the_owner_is_told_by_email(client: Client, totp: Totp) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from shien.core.models import Notification

    u = User.objects.create_user("oidc-only@example.jp", None)  # signed in through GビズID: no password
    assert not u.has_usable_password()
    User.objects.filter(pk=u.pk).update(last_login=timezone.now() - timedelta(minutes=30))
    client.force_login(u)
    User.objects.filter(pk=u.pk).update(last_login=timezone.now() - timedelta(minutes=30))
    stale = client.post("/accounts/security/totp/setup/")
    assert stale.status_code == 400 and "もう一度ログインしてから" in stale.content.decode()
    User.objects.filter(pk=u.pk).update(last_login=timezone.now())
    assert client.post("/accounts/security/totp/setup/").url == "/accounts/security/totp/"
    device = TOTPDevice.objects.get(user=u)
    assert client.post("/accounts/security/totp/", {"code": totp.code(device)}).status_code == 302
    note = Notification.objects.get(user=u, kind="security.two_factor")
    assert (
        note.title == "2段階認証を有効にしました" and note.email_wanted and "心当たりがない場合" in note.body
    )


def test_each_login_step_gives_a_new_session_key(client: Client, totp: Totp) -> None:
    u = user("fix@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "fix@example.jp")
    pending_key = client.session.session_key
    assert pending_key
    client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert client.session.session_key != pending_key  # rotated by login() after the code
    assert client.session["_auth_user_id"] == str(u.pk)


def test_a_session_key_known_before_the_password_is_useless_after_it(client: Client, totp: Totp) -> None:
    """Session fixation: whoever planted the cookie cannot use the pending login to guess codes."""
    u = user("planted@example.jp")
    device, _ = enabled(u, totp)
    attacker = Client()
    attacker.get("/accounts/login/")
    attacker.post("/accounts/login/", {"username": "nobody@example.jp", "password": "x"})
    session = attacker.session
    session["planted"] = True
    session.save()
    client.cookies["sessionid"] = session.session_key  # the victim's browser gets the planted cookie
    password_step(client, "planted@example.jp")
    assert client.session.session_key != session.session_key
    attacker.cookies["sessionid"] = session.session_key
    assert attacker.get("/accounts/login/verify/").status_code == 302  # no pending login in it
    attacker.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert "_auth_user_id" not in attacker.session


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/mypage/"),
        ("get", "/accounts/security/"),
        ("get", "/accounts/security/totp/"),
        ("get", "/accounts/security/backup-codes/"),
        ("post", "/accounts/security/totp/setup/"),
        ("post", "/accounts/security/totp/disable/"),
        ("post", "/accounts/security/backup-codes/new/"),
        ("get", "/accounts/password_change/"),
        ("get", "/inbox/"),
        ("get", "/office/"),
    ],
)
def test_the_pending_login_opens_nothing(client: Client, totp: Totp, method: str, url: str) -> None:
    u = user("half@example.jp")
    enabled(u, totp)
    password_step(client, "half@example.jp")
    response = getattr(client, method)(url)
    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    assert client.get("/api/v1/programs").status_code in (200, 404)  # the open API has no user at all


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:evil"]
)
def test_next_never_leaves_the_site(client: Client, totp: Totp, evil: str) -> None:
    u = user("next@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "next@example.jp", evil)
    response = client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert response.status_code == 302 and response.url == "/mypage/"


def test_the_code_step_needs_the_csrf_token(totp: Totp) -> None:
    u = user("csrf@example.jp")
    device, _ = enabled(u, totp)
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post(
        "/accounts/login/",
        {"username": "csrf@example.jp", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    refused = client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert refused.status_code == 403 and "_auth_user_id" not in client.session


def test_a_code_used_to_log_in_cannot_turn_two_factor_off(client: Client, totp: Totp) -> None:
    u = user("replay@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "replay@example.jp")
    code = totp.code(device)
    client.post("/accounts/login/verify/", {"code": code})
    response = client.post("/accounts/security/totp/disable/", {"code": code})  # a looker-on saw it
    assert response.status_code == 400 and twofactor.has_two_factor(u)


def test_backup_codes_are_stored_hashed(totp: Totp) -> None:
    u = user("hashed@example.jp")
    _, codes = enabled(u, totp)
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(codes)
    assert not any(c in s or s in c for s in stored for c in codes)
    assert twofactor.verify_code(user=u, code=codes[3]).backup_code
    assert twofactor.backup_codes_left(u) == 9
    with pytest.raises(Exception, match="正しくありません"):
        twofactor.verify_code(user=u, code=codes[3])
    wait_out_throttle()
    with pytest.raises(Exception, match="正しくありません"):  # the stored value is not a code
        twofactor.verify_code(user=u, code=next(iter(stored)))


def test_backup_codes_survive_a_secret_key_rotation(totp: Totp, settings: Any) -> None:
    u = user("rotate@example.jp")
    _, codes = enabled(u, totp)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert twofactor.verify_code(user=u, code=codes[0]).backup_code


def test_wrong_backup_codes_and_totp_codes_share_one_count_and_a_lock_holds_the_right_code(
    client: Client, totp: Totp
) -> None:
    u = user("mixed@example.jp")
    device, codes = enabled(u, totp)
    password_step(client, "mixed@example.jp")
    for wrong in ("aaaaaaaa", "999999", "bbbbbbbb", "888888", "cccccccc"):
        wait_out_throttle()
        client.post("/accounts/login/verify/", {"code": wrong})
    u.refresh_from_db()
    assert u.locked_until is not None
    for right in (totp.code(device), codes[0]):  # locked: even the right codes are refused
        with pytest.raises(Exception, match="15分間"):
            twofactor.verify_code(user=u, code=right)
    assert twofactor.backup_codes_left(u) == 10  # and the backup code was not spent


def test_odd_input_to_the_code_step_is_a_page_not_a_500(client: Client, totp: Totp) -> None:
    u = user("odd@example.jp")
    enabled(u, totp)
    password_step(client, "odd@example.jp")
    for odd in ("", "x" * 10_000, "\x00\x01", "１２３４５６", "'; drop table users; --", "١٢٣٤٥٦"):
        TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
        response = client.post("/accounts/login/verify/", {"code": odd})
        assert response.status_code in (400, 429)
    assert "_auth_user_id" not in client.session
