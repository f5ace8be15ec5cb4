"""Security review of the two-factor and OpenID Connect logins: the attacks each rule is there to stop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shien.accounts import oidc, twofactor
from shien.accounts.models import ExternalIdentity, User
from shien.accounts.tests.conftest import Totp, wait_out_throttle
from shien.accounts.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from shien.accounts.tests.test_oidc import logged_in, via_provider
from shien.accounts.tests.test_two_factor import PASSWORD, enabled, password_step
from shien.applications.tests.factories import user
from shien.core.models import AuditLog

pytestmark = pytest.mark.django_db


# --- the half-logged-in state and the session ------------------------------------------------


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


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x"])
def test_next_of_an_external_login_never_leaves_the_site(
    client: Client, provider: Provider, evil: str
) -> None:
    response = via_provider(client, provider, next_url=evil)
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


# --- codes: replay, throttling, storage --------------------------------------------------------


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


# (password guessing and its lock: test_login.py, django-axes)


def test_no_code_or_secret_reaches_the_audit_log_or_the_log(
    client: Client, totp: Totp, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    u = user("quiet@example.jp")
    device, codes = enabled(u, totp)
    password_step(client, "quiet@example.jp")
    client.post("/accounts/login/verify/", {"code": codes[0]})
    totp.tick()
    client.post("/accounts/security/backup-codes/new/", {"code": totp.code(device)})
    new_codes = client.session.get("two_factor_new_backup_codes") or []
    provider.sign_with_rogue_key = True
    via_provider(Client(), provider)
    audit = json.dumps(list(AuditLog.objects.values("reason", "data")), ensure_ascii=False)
    secret = base64.b32encode(device.bin_key).decode()
    for value in [*codes, *new_codes, secret, device.key, CLIENT_SECRET, totp.code(device)]:
        assert value not in audit and value not in caplog.text


# --- OpenID Connect: the id_token --------------------------------------------------------------


def _claims(provider: Provider, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": provider.url, "aud": CLIENT_ID, "sub": "x", "iat": now, "exp": now + 300, "nonce": "n"}
    return {k: v for k, v in (claims | overrides).items() if v is not None}


def _signed(provider: Provider, claims: dict[str, Any], **headers: Any) -> str:
    return jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": "test-key-1", **headers})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_right_token_passes(provider: Provider) -> None:
    assert oidc.verify_id_token(_signed(provider, _claims(provider)), nonce="n")["sub"] == "x"


def test_alg_none_is_refused(provider: Provider, settings: Any) -> None:
    token = jwt.encode(_claims(provider), None, algorithm="none")
    with pytest.raises(oidc.OIDCError, match="署名方式"):
        oidc.verify_id_token(token, nonce="n")
    settings.OIDC_RP_SIGN_ALGO = "RS256,none"  # even when misconfigured
    with pytest.raises(oidc.OIDCError):
        oidc.verify_id_token(token, nonce="n")


def test_hs256_signed_with_the_public_key_is_refused(provider: Provider, settings: Any) -> None:
    """Algorithm confusion: the provider's public key (which anyone can fetch) used as an HMAC secret."""
    from cryptography.hazmat.primitives import serialization

    public_pem = provider.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = provider.jwks()["keys"][0]
    for secret in (
        public_pem,
        json.dumps(public_jwk).encode(),
        base64.urlsafe_b64decode(public_jwk["n"] + "=="),
    ):
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "test-key-1"}).encode())
        body = _b64(json.dumps(_claims(provider)).encode())
        signature = _b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
        token = f"{header}.{body}.{signature}"
        settings.OIDC_RP_SIGN_ALGO = "RS256"
        with pytest.raises(oidc.OIDCError, match="署名方式"):
            oidc.verify_id_token(token, nonce="n")
        settings.OIDC_RP_SIGN_ALGO = "RS256,HS256"  # even when misconfigured
        with pytest.raises(oidc.OIDCError):
            oidc.verify_id_token(token, nonce="n")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example"}, "発行者（iss）"),
        ({"aud": "someone-else"}, "宛先（aud）"),
        ({"aud": ["someone-else", CLIENT_ID]}, "宛先（azp）"),
        ({"aud": [CLIENT_ID, "someone-else"], "azp": "someone-else"}, "宛先（azp）"),
        ({"azp": "someone-else"}, "宛先（azp）"),
        ({"exp": int(time.time()) - 120}, "有効期限"),
        ({"iat": int(time.time()) + 600}, "発行時刻"),
        ({"exp": None}, "exp"),
        ({"iat": None}, "iat"),
        ({"sub": None}, "sub"),
        ({"nonce": None}, "nonce"),
        ({"nonce": "someone-elses"}, "nonce"),
    ],
)
def test_a_wrong_claim_is_refused(provider: Provider, overrides: dict[str, Any], reason: str) -> None:
    token = _signed(provider, _claims(provider, **overrides))
    with pytest.raises(oidc.OIDCError) as raised:
        oidc.verify_id_token(token, nonce="n")
    assert raised.value.code == "invalid_token"
    assert reason in raised.value.message or (
        reason in ("exp", "iat", "sub") and "Missing" in raised.value.message
    )


def test_several_audiences_with_our_azp_pass(provider: Provider) -> None:
    token = _signed(provider, _claims(provider, aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    assert oidc.verify_id_token(token, nonce="n")["sub"] == "x"


def test_an_issuer_with_a_trailing_slash_is_compared_as_the_provider_writes_it(
    provider: Provider, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    discovery = provider.discovery()
    monkeypatch.setattr(provider, "discovery", lambda: {**discovery, "issuer": provider.url + "/"})
    settings.OIDC_OP_ISSUER = provider.url + "/"
    token = _signed(provider, _claims(provider, iss=provider.url + "/"))
    assert oidc.verify_id_token(token, nonce="n")["iss"] == provider.url + "/"
    with pytest.raises(oidc.OIDCError, match="iss"):  # the other spelling is another issuer
        oidc.verify_id_token(_signed(provider, _claims(provider)), nonce="n")


def test_unknown_kids_do_not_make_us_fetch_the_jwks_again_and_again(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    real = oidc._get_json

    def counting(url: str, **kwargs: Any) -> dict[str, Any]:
        fetched.append(url)
        return real(url, **kwargs)

    monkeypatch.setattr(oidc, "_get_json", counting)
    for n in range(5):
        with pytest.raises(oidc.OIDCError, match="鍵が見つかりません"):
            oidc.verify_id_token(_signed(provider, _claims(provider), kid=f"unknown-{n}"), nonce="n")
    assert fetched.count(f"{provider.url}/jwks") <= 2
    assert oidc.verify_id_token(_signed(provider, _claims(provider)), nonce="n")  # the known key still works


# --- OpenID Connect: state, errors, pages ------------------------------------------------------


def test_a_state_from_another_browser_is_refused(client: Client, provider: Provider) -> None:
    """Login CSRF: the attacker's own answer from the provider, opened in the victim's browser."""
    attacker = Client()
    start = attacker.get("/accounts/oidc/start/")
    back = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    client.get("/accounts/oidc/start/")  # the victim has flows of their own
    response = client.get(back)
    assert response.status_code == 400 and logged_in(client) is None
    assert not User.objects.exists()


def test_the_pkce_verifier_and_nonce_are_per_flow(client: Client, provider: Provider) -> None:
    first = parse_qs(urlparse(client.get("/accounts/oidc/start/").url).query)
    second = parse_qs(urlparse(client.get("/accounts/oidc/start/").url).query)
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name] and len(first[name][0]) >= 43
    assert first["code_challenge_method"] == ["S256"]
    flows = client.session[oidc.SESSION_KEY]
    assert set(flows) == {first["state"][0], second["state"][0]}
    verifier = flows[first["state"][0]]["verifier"]
    assert _b64(hashlib.sha256(verifier.encode()).digest()) == first["code_challenge"][0]


def test_a_crafted_error_link_shows_no_text_of_the_attackers(client: Client, provider: Provider) -> None:
    bait = "至急 0120-000-000 に電話してください"
    response = client.get("/accounts/oidc/callback/", {"error": bait, "state": "none"})
    assert response.status_code == 400 and bait not in response.content.decode()
    start = client.get("/accounts/oidc/start/")
    state = parse_qs(urlparse(start.url).query)["state"][0]
    response = client.get("/accounts/oidc/callback/", {"error": bait, "state": state})
    assert response.status_code == 400 and bait not in response.content.decode()
    assert "0120" not in response.content.decode()


@pytest.mark.parametrize(
    "discovery",
    [
        {"authorization_endpoint": None},
        {"token_endpoint": None},
        {"jwks_uri": None},
        {"issuer": "https://someone-else.example"},
    ],
)
def test_a_broken_provider_is_a_page_not_a_500(
    client: Client, provider: Provider, monkeypatch: pytest.MonkeyPatch, discovery: dict[str, Any]
) -> None:
    real = provider.discovery()
    broken = {k: v for k, v in (real | discovery).items() if v is not None}
    start = client.get("/accounts/oidc/start/")  # a good flow first
    back = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(provider, "discovery", lambda: broken)
    for response in (client.get("/accounts/oidc/start/"), client.get(back)):
        assert response.status_code == 502 and "ログインできませんでした" in response.content.decode()
    assert logged_in(client) is None


def test_odd_input_to_the_code_step_is_a_page_not_a_500(client: Client, totp: Totp) -> None:
    u = user("odd@example.jp")
    enabled(u, totp)
    password_step(client, "odd@example.jp")
    for odd in ("", "x" * 10_000, "\x00\x01", "１２３４５６", "'; drop table users; --", "١٢٣٤٥٦"):
        TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
        response = client.post("/accounts/login/verify/", {"code": odd})
        assert response.status_code in (400, 429)
    assert "_auth_user_id" not in client.session


# --- OpenID Connect: linking an existing user --------------------------------------------------


def test_an_account_made_in_advance_with_someones_email_is_not_linked_to_their_gbizid(
    client: Client, provider: Provider
) -> None:
    """Pre-account takeover: sign-up now confirms the address by mail, so a squatter's sign-up makes no
    account; one made another way (by an administrator, before mail confirmation existed) is still
    linked only once the password's holder confirms."""
    squatter = Client()
    squatter.post("/accounts/signup/", {"email": "gbiz@example.jp", "name": "誰か"})
    assert not User.objects.filter(email="gbiz@example.jp").exists()
    planted = User.objects.create_user("gbiz@example.jp", PASSWORD, name="誰か")
    response = via_provider(client, provider)  # the real owner of the address, through GビズID
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert logged_in(client) is None and not ExternalIdentity.objects.exists()
    page = client.get(response.url).content.decode()
    assert "パスワードでログインしてください" in page
    # the real owner does not know the squatter's password: nothing is linked, nobody logged in
    client.post("/accounts/login/", {"username": "gbiz@example.jp", "password": "i do not know it"})
    assert logged_in(client) is None and not ExternalIdentity.objects.exists()
    assert planted.has_usable_password()


def test_the_password_holder_confirms_the_link(client: Client, provider: Provider) -> None:
    existing = user("gbiz@example.jp")
    response = via_provider(client, provider, next_url="/accounts/security/")
    assert response.url.startswith("/accounts/login/")
    response = client.post(
        response.url, {"username": "gbiz@example.jp", "password": PASSWORD, "next": "/accounts/security/"}
    )
    assert response.status_code == 302 and response.url == "/accounts/security/"
    assert logged_in(client) == existing
    assert ExternalIdentity.objects.get().user == existing
    link = AuditLog.objects.get(action="auth.oidc_link")
    assert link.data["by"] == "password" and link.actor == existing
    again = Client()  # from now on GビズID alone logs in
    assert via_provider(again, provider).url == "/mypage/" and logged_in(again) == existing


def test_a_pending_link_is_not_given_to_another_user(client: Client, provider: Provider) -> None:
    user("gbiz@example.jp")
    other = user("other@example.jp")
    via_provider(client, provider)
    client.post("/accounts/login/", {"username": "other@example.jp", "password": PASSWORD})
    assert logged_in(client) == other and not ExternalIdentity.objects.exists()


def test_provider_mfa_does_not_skip_the_code_when_linking_by_email(
    client: Client, provider: Provider, totp: Totp
) -> None:
    """A user without a password (made by staff or an earlier link) and with 2FA: the code proves the link."""
    person = User.objects.create_user("gbiz@example.jp", None)
    device, _ = enabled(person, totp)
    provider.amr = ["mfa"]
    response = via_provider(client, provider)
    assert response.url == "/accounts/login/verify/" and not ExternalIdentity.objects.exists()
    client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert logged_in(client) == person and ExternalIdentity.objects.get().user == person
    other = Client()  # linked now: the provider's multi-factor is enough
    assert via_provider(other, provider).url == "/mypage/" and logged_in(other) == person


def test_amr_counts_only_from_the_id_token(
    client: Client, provider: Provider, totp: Totp, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = user("gbiz@example.jp")
    device, _ = enabled(person, totp)
    ExternalIdentity.objects.create(user=person, issuer=provider.url, subject="gbiz-0001")
    real = provider.userinfo
    monkeypatch.setattr(
        provider, "userinfo", lambda auth: (lambda s, b: (s, {**b, "amr": ["mfa"]}))(*real(auth))
    )
    response = via_provider(client, provider)
    assert response.url == "/accounts/login/verify/" and logged_in(client) is None


def test_a_state_is_used_once_even_with_a_fresh_code(client: Client, provider: Provider) -> None:
    start = client.get("/accounts/oidc/start/")
    first = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    second = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]  # a new code
    assert client.get(first).status_code == 302
    assert oidc.SESSION_KEY in client.session  # login() kept the session's data (no logout here)
    response = client.get(second)  # (a logout would flush the flows and prove nothing)
    assert response.status_code == 400 and "state" in response.content.decode()


def test_userinfo_of_another_subject_is_refused(
    client: Client, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = provider.userinfo
    monkeypatch.setattr(provider, "userinfo", lambda auth: (real(auth)[0], {**real(auth)[1], "sub": "other"}))
    response = via_provider(client, provider)
    assert response.status_code == 400 and "sub" in response.content.decode()
    assert logged_in(client) is None and not User.objects.exists()


def test_an_inactive_user_cannot_log_in_through_the_provider_or_finish_the_code_step(
    client: Client, provider: Provider, totp: Totp
) -> None:
    person = User.objects.create_user("gbiz@example.jp", None)
    ExternalIdentity.objects.create(user=person, issuer=provider.url, subject="gbiz-0001")
    User.objects.filter(pk=person.pk).update(is_active=False)
    response = via_provider(client, provider)
    assert response.status_code == 403 and logged_in(client) is None
    u = user("leaver@example.jp")
    device, _ = enabled(u, totp)
    password_step(client, "leaver@example.jp")
    User.objects.filter(pk=u.pk).update(is_active=False)  # deactivated between the two steps
    assert client.post("/accounts/login/verify/", {"code": totp.code(device)}).status_code == 302
    assert logged_in(client) is None


def test_a_two_factor_user_with_a_password_links_after_password_and_code(
    client: Client, provider: Provider, totp: Totp
) -> None:
    existing = user("gbiz@example.jp")
    device, _ = enabled(existing, totp)
    provider.amr = ["mfa"]  # the provider's own multi-factor does not replace the password here
    login_page = via_provider(client, provider).url
    assert login_page.startswith("/accounts/login/") and logged_in(client) is None
    client.post(login_page, {"username": "gbiz@example.jp", "password": PASSWORD})
    assert not ExternalIdentity.objects.exists()  # not before the code
    client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert logged_in(client) == existing and ExternalIdentity.objects.get().user == existing
