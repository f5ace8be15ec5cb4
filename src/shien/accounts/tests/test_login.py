"""Password login and its throttling (django-axes): per address, and per account from one address."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from shien.accounts.models import User
from shien.applications.tests.factories import user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def attempt(email: str, password: str, address: str = "198.51.100.7") -> Any:
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/accounts/login/", {"username": email, "password": password})


def test_an_account_from_one_address_is_refused_after_five_failures_but_not_from_another() -> None:
    user("login@example.jp")
    for _ in range(4):
        _, response = attempt("login@example.jp", "wrong")
        assert response.status_code == 200 and "正しくありません" in response.content.decode()
    _, fifth = attempt("Login@Example.jp", "wrong")  # the same account in another case
    assert fifth.status_code == 429 and "このメールアドレスでのログインに続けて失敗" in fifth.content.decode()
    client, refused = attempt("login@example.jp", PASSWORD)  # even the right password, from there
    assert refused.status_code == 429 and "_auth_user_id" not in client.session
    # the owner, from their own address, is not locked out by a stranger's five requests
    client, owner = attempt("login@example.jp", PASSWORD, address="203.0.113.9")
    assert owner.status_code == 302 and client.session["_auth_user_id"] == str(User.objects.get().pk)


def test_an_address_trying_many_accounts_is_refused_without_hashing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.AXES_IP_FAILURE_LIMIT = 8
    user("target@example.jp")
    hashed: list[str] = []
    real = MD5PasswordHasher.encode
    monkeypatch.setattr(
        MD5PasswordHasher, "encode", lambda self, pw, salt: hashed.append(pw) or real(self, pw, salt)
    )
    for n in range(8):  # unknown accounts are hashed too: the time does not tell which exist
        attempt(f"nobody{n}@example.jp", "guess")
    assert len(hashed) == 8
    _, refused = attempt("target@example.jp", PASSWORD)
    assert refused.status_code == 429 and "この接続元からのログインの失敗が多い" in refused.content.decode()
    assert len(hashed) == 8  # refused before the password hasher ran
    assert refused["Retry-After"] == "900"
    client, elsewhere = attempt("target@example.jp", PASSWORD, address="203.0.113.9")
    assert elsewhere.status_code == 302


def test_a_success_clears_that_account_only(settings: Any) -> None:
    settings.AXES_IP_FAILURE_LIMIT = 8
    user("mine@example.jp")
    for n in range(4):
        attempt(f"other{n}@example.jp", "guess")
    for _ in range(3):
        attempt("mine@example.jp", "typo")
    _, ok = attempt("mine@example.jp", PASSWORD)  # the attacker's own account does not buy more guesses
    assert ok.status_code == 302
    assert not AccessAttempt.objects.filter(username="mine@example.jp").exists()
    assert sum(a.failures_since_start for a in AccessAttempt.objects.all()) == 4
    for _ in range(4):
        attempt("another@example.jp", "guess")
    _, refused = attempt("mine@example.jp", PASSWORD)
    assert refused.status_code == 429


def test_failures_are_forgotten_after_fifteen_minutes() -> None:
    from datetime import timedelta

    from django.utils import timezone

    user("later@example.jp")
    for _ in range(5):
        attempt("later@example.jp", "wrong")
    assert attempt("later@example.jp", PASSWORD)[1].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert attempt("later@example.jp", PASSWORD)[1].status_code == 302


def test_tries_while_refused_do_not_extend_the_wait() -> None:
    user("wait@example.jp")
    for _ in range(5):
        attempt("wait@example.jp", "wrong")
    before = AccessAttempt.objects.get()
    for _ in range(3):
        assert attempt("wait@example.jp", "wrong")[1].status_code == 429
    after = AccessAttempt.objects.get()
    assert (after.failures_since_start, after.attempt_time) == (
        before.failures_since_start,
        before.attempt_time,
    )


def test_behind_a_proxy_the_client_is_the_address_the_proxy_saw(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    user("proxy@example.jp")
    for n in range(5):  # a client sends its own X-Forwarded-For: the proxy appends the real address
        Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.7").post(
            "/accounts/login/", {"username": "proxy@example.jp", "password": "wrong"}
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    owner = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert (
        owner.post("/accounts/login/", {"username": "proxy@example.jp", "password": PASSWORD}).status_code
        == 302
    )


def test_the_security_page_password_is_throttled_like_a_login(client: Client) -> None:
    user("setup@example.jp")
    assert (
        client.post("/accounts/login/", {"username": "setup@example.jp", "password": PASSWORD}).status_code
        == 302
    )
    for _ in range(4):
        response = client.post("/accounts/security/totp/setup/", {"password": "guess"})
        assert response.status_code == 400
    refused = client.post("/accounts/security/totp/setup/", {"password": "guess"})
    assert refused.status_code == 429 and "15分間" in refused.content.decode()
    assert "セキュリティ" in refused.content.decode()  # the security page, not the login page
    again = client.post("/accounts/security/totp/setup/", {"password": PASSWORD})  # refused, not hashed
    assert again.status_code == 429


def test_parallel_wrong_passwords_get_at_most_one_extra_guess_per_request_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests that all pass the check before any failure is counted (parallel workers): axes counts
    after the password check, so each request already in flight gets its guess — no more. Once counted,
    the lock holds and no further password is hashed. (Was: at most 5 with the hand-written counter.)"""
    user("parallel@example.jp")
    checked: list[str] = []
    real_check = User.check_password
    in_flight = 3  # e.g. the other workers of `shien serve --workers 4`

    def check(self: User, raw: str) -> bool:
        checked.append(raw)
        # while the 5th guess is being hashed another arrives, and another while that one is hashed …
        if raw == "guess 4" or (raw.startswith("parallel") and len(checked) < 5 + in_flight):
            attempt("parallel@example.jp", f"parallel guess {len(checked)}")
        return real_check(self, raw)

    monkeypatch.setattr(User, "check_password", check)
    for n in range(5):
        attempt("parallel@example.jp", f"guess {n}")
    assert len(checked) == 5 + in_flight  # all checked at a count of 4, before any of them was counted
    for n in range(5):
        assert attempt("parallel@example.jp", f"more {n}")[1].status_code == 429
    assert attempt("parallel@example.jp", PASSWORD)[1].status_code == 429
    assert len(checked) == 5 + in_flight  # refused without another check


def test_a_count_run_past_the_limit_refuses_without_another_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.utils import timezone

    user("overrun@example.jp")
    AccessAttempt.objects.create(  # counted by requests that were in flight together
        username="overrun@example.jp", ip_address="198.51.100.7", user_agent="<unknown>",
        failures_since_start=7, attempt_time=timezone.now(),
    )  # fmt: skip
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: pytest.fail("a guess past the limit was checked")
    )
    assert attempt("overrun@example.jp", PASSWORD)[1].status_code == 429


def test_a_right_password_clears_the_count() -> None:
    user("count@example.jp")
    for _ in range(4):
        attempt("count@example.jp", "wrong")
    assert attempt("count@example.jp", PASSWORD)[1].status_code == 302
    for _ in range(4):
        assert attempt("count@example.jp", "wrong")[1].status_code == 200
    assert AccessAttempt.objects.get(username="count@example.jp").failures_since_start == 4
    assert attempt("count@example.jp", PASSWORD)[1].status_code == 302


def test_session_and_csrf_cookies_are_secure_unless_debug_or_opted_out() -> None:
    import subprocess
    import sys

    login_page = Client().get("/accounts/login/")
    assert login_page.cookies["csrftoken"]["secure"] is True
    user("cookie@example.jp")
    client, response = attempt("cookie@example.jp", PASSWORD)
    assert (
        response.cookies["sessionid"]["secure"] is True and response.cookies["sessionid"]["httponly"] is True
    )

    def secure(**env: str) -> str:
        code = "from shien.web import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
        import os

        run = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return run.stdout.strip()

    assert secure(DEBUG="false") == "True True"  # production: on by default
    assert secure(DEBUG="false", SECURE_COOKIES="false") == "False False"  # local plain http only
    assert secure(DEBUG="true") == "False False"
