"""Login through an OpenID Connect provider (GビズID), against a real local provider over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from django.test import Client

from shien.accounts import oidc, twofactor
from shien.accounts.models import ExternalIdentity, User
from shien.accounts.tests.conftest import Totp
from shien.accounts.tests.oidc_provider import Provider
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
