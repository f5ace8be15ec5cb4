"""Login through an OpenID Connect provider (GビズID), against a real local provider over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import pytest
import requests
from django.test import Client

from shien.accounts import oidc, twofactor
from shien.accounts.models import ExternalIdentity, User
from shien.accounts.tests.conftest import Totp
from shien.accounts.tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from shien.accounts.tests.test_two_factor import PASSWORD, enabled, password_step
from shien.applications.tests.factories import user
from shien.core.models import AuditLog

pytestmark = pytest.mark.django_db


def via_provider(
    client: Client, provider: Provider, *, next_url: str = "/mypage/", state: str | None = None
) -> Any:
    """Click 「GビズIDでログイン」, let the provider answer over HTTP, come back to the callback."""
    start = client.get("/accounts/oidc/start/", {"next": next_url})
    assert start.status_code == 302 and start.url.startswith(f"{provider.url}/authorize?")
    answer = requests.get(start.url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = answer.headers["Location"]
    assert back.startswith("http://testserver/accounts/oidc/callback/?")
    if state is not None:
        query = {k: v[0] for k, v in parse_qs(urlparse(back).query).items()} | {"state": state}
        back = "/accounts/oidc/callback/?" + urlencode(query)
    return client.get(back)


def logged_in(client: Client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_login_page_shows_the_button_only_when_configured(client: Client, settings: Any) -> None:
    settings.OIDC_ENABLED = False
    assert "GビズIDでログイン" not in client.get("/accounts/login/").content.decode()
    assert client.get("/accounts/oidc/start/").status_code == 404
    settings.OIDC_ENABLED, settings.OIDC_PROVIDER_NAME = True, "テストID"
    page = client.get("/accounts/login/?next=/accounts/security/").content.decode()
    assert "テストIDでログイン" in page and "/accounts/oidc/start/?next=/accounts/security/" in page


def test_first_login_creates_the_user_and_the_next_reuses_it(client: Client, provider: Provider) -> None:
    response = via_provider(client, provider)
    assert response.status_code == 302 and response.url == "/mypage/"
    person = logged_in(client)
    assert person is not None and person.email == "gbiz@example.jp" and person.name == "広島 花子"
    assert not person.has_usable_password()
    identity = ExternalIdentity.objects.get()
    assert (identity.issuer, identity.subject, identity.user) == (provider.url, "gbiz-0001", person)
    assert client.session["_auth_user_backend"] == "shien.accounts.backends.ExternalIdentityBackend"
    assert client.get("/mypage/").status_code == 200
    request = provider.token_requests[-1]
    assert request["code_verifier"] and "client_secret" not in request  # PKCE; secret by Basic auth
    actions = list(AuditLog.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["user.create", "auth.oidc_link", "auth.oidc_login"]
    first_seen = identity.last_login_at

    provider.user["email"] = "new-address@example.jp"  # the same person (sub) with a new address
    again = Client()
    assert via_provider(again, provider).status_code == 302
    assert logged_in(again) == person and User.objects.count() == 1
    identity.refresh_from_db()
    assert identity.last_login_at > first_seen and identity.email == "new-address@example.jp"
    assert AuditLog.objects.filter(action="auth.oidc_link").count() == 1
    assert AuditLog.objects.filter(action="auth.oidc_login").count() == 2


def test_an_existing_user_is_linked_only_with_a_verified_email(client: Client, provider: Provider) -> None:
    existing = user("gbiz@example.jp")
    provider.user["email_verified"] = False
    refused = via_provider(client, provider)
    page = refused.content.decode()
    assert refused.status_code == 409 and "メールアドレスの確認が済んでいないため連携できません" in page
    assert "GビズIDでログインできませんでした" in page
    assert logged_in(client) is None and not ExternalIdentity.objects.exists()

    provider.user["email_verified"] = True
    response = via_provider(client, provider)  # a user with a password: it confirms the link once
    assert response.status_code == 302 and response.url == "/accounts/login/?next=%2Fmypage%2F"
    assert logged_in(client) is None and not ExternalIdentity.objects.exists()
    assert "この利用者のパスワードでログインしてください" in client.get(response.url).content.decode()
    client.post(response.url, {"username": "gbiz@example.jp", "password": "correct horse battery"})
    assert logged_in(client) == existing and existing.has_usable_password()
    assert ExternalIdentity.objects.get().user == existing
    link = AuditLog.objects.get(action="auth.oidc_link")
    assert link.actor == existing and link.data["by"] == "password"

    without_password = User.objects.create_user("nopass@example.jp", None)  # made by staff, say
    provider.user |= {"sub": "gbiz-0002", "email": "nopass@example.jp"}
    other = Client()
    assert via_provider(other, provider).url == "/mypage/" and logged_in(other) == without_password
    assert AuditLog.objects.filter(action="auth.oidc_link", data__by="verified_email").count() == 1


def test_a_new_user_needs_a_verified_email(client: Client, provider: Provider) -> None:
    provider.user["email_verified"] = "false"
    response = via_provider(client, provider)
    assert (
        response.status_code == 409
        and "確認が済んでいないため、利用登録できません" in response.content.decode()
    )
    assert not User.objects.exists()


def test_a_tampered_or_replayed_state_is_refused(client: Client, provider: Provider) -> None:
    response = via_provider(client, provider, state="forged-state")
    assert response.status_code == 400 and "state" in response.content.decode()
    assert logged_in(client) is None and not User.objects.exists()
    # the real answer, used twice: the second is refused (a flow is used once)
    start = client.get("/accounts/oidc/start/")
    back = requests.get(start.url, allow_redirects=False, timeout=5).headers["Location"]
    assert client.get(back).status_code == 302
    client.post("/accounts/logout/")
    assert client.get(back).status_code == 400 and logged_in(client) is None


@pytest.mark.parametrize(
    ("misbehave", "reason"),
    [
        ({"sign_with_rogue_key": True}, "署名が正しくありません"),
        ({"audience": "someone-else"}, "宛先（aud）が本サービスではありません"),
        ({"lifetime": -600}, "有効期限が切れています"),
    ],
)
def test_a_bad_id_token_is_refused(
    client: Client, provider: Provider, misbehave: dict[str, Any], reason: str
) -> None:
    for name, value in misbehave.items():
        setattr(provider, name, value)
    response = via_provider(client, provider)
    page = response.content.decode()
    assert response.status_code == 400 and reason in page and "IDトークン" in page
    assert logged_in(client) is None and not User.objects.exists()


def test_a_token_for_another_login_nonce_is_refused(provider: Provider) -> None:
    import time

    import jwt

    now = int(time.time())
    token = jwt.encode(
        {
            "iss": provider.url,
            "aud": "shien-test-client",
            "sub": "x",
            "iat": now,
            "exp": now + 300,
            "nonce": "theirs",
        },
        provider.key,
        algorithm="RS256",
        headers={"kid": "test-key-1"},
    )
    assert oidc.verify_id_token(token, nonce="theirs")["sub"] == "x"
    with pytest.raises(oidc.OIDCError, match="nonce"):
        oidc.verify_id_token(token, nonce="ours")


def test_access_denied_is_explained_in_japanese(client: Client, provider: Provider) -> None:
    provider.deny = True
    response = via_provider(client, provider)
    page = response.content.decode()
    assert response.status_code == 403 and "GビズIDでのログインが許可されませんでした" in page
    assert 'lang="ja"' in page and logged_in(client) is None


def test_an_unreachable_provider_is_a_page_not_a_500(
    client: Client, provider: Provider, settings: Any
) -> None:
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9"  # discard port: nothing listens
    response = client.get("/accounts/oidc/start/")
    assert response.status_code == 502 and "GビズIDとの通信に失敗しました" in response.content.decode()


def test_a_two_factor_user_still_enters_the_code(client: Client, provider: Provider, totp: Totp) -> None:
    person = User.objects.create_user("gbiz@example.jp", None)  # no password: the code proves the link
    device = twofactor.totp_setup(user=person)
    twofactor.totp_confirm(user=person, code=totp.code(device))
    totp.tick()
    response = via_provider(client, provider, next_url="/accounts/security/")
    assert response.status_code == 302 and response.url == "/accounts/login/verify/"
    assert logged_in(client) is None and client.get("/mypage/").status_code == 302
    assert not ExternalIdentity.objects.exists()  # linked only after the code
    response = client.post("/accounts/login/verify/", {"code": totp.code(device)})
    assert response.status_code == 302 and response.url == "/accounts/security/"
    assert logged_in(client) == person
    assert client.session["_auth_user_backend"] == "shien.accounts.backends.ExternalIdentityBackend"
    assert ExternalIdentity.objects.get().user == person
    assert AuditLog.objects.filter(action="auth.oidc_login", data__provider_mfa=False).count() == 1

    provider.amr = ["pwd", "otp", "mfa"]  # the provider says it did multi-factor itself
    other = Client()
    assert via_provider(other, provider).url == "/mypage/" and logged_in(other) == person


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x"])
def test_next_of_an_external_login_never_leaves_the_site(
    client: Client, provider: Provider, evil: str
) -> None:
    response = via_provider(client, provider, next_url=evil)
    assert response.status_code == 302 and response.url == "/mypage/"


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
