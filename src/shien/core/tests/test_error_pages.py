"""Every error a user can meet is a Japanese page with a way back: a POST-only address opened by GET,
a form refused by the CSRF check, a forbidden action and a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.views import defaults

from shien.applications.tests.factories import user

pytestmark = pytest.mark.django_db


def test_a_post_only_address_opened_from_the_address_bar(client: Client) -> None:
    client.force_login(user("o@example.jp"))
    response = client.get("/applications/6/submit/")
    page = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "このアドレスは直接開けません" in page and 'href="/applications/6/"' in page
    assert client.post("/applications/6/submit/").status_code == 404  # the POST itself is unchanged


def test_a_form_sent_from_an_old_page_is_explained() -> None:
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        "/organizations/new/", {"name": "x"}, HTTP_REFERER="http://testserver/organizations/new/"
    )
    page = response.content.decode()
    assert response.status_code == 403 and "送信できませんでした" in page
    assert 'href="/accounts/login/?next=http%3A//testserver/organizations/new/"' in page
    assert "DEBUG" not in page and "CSRF" not in page
    outside = browser.post("/organizations/new/", {}, HTTP_REFERER="https://evil.example/")
    assert "evil.example" not in outside.content.decode()


def test_secure_cookies_on_plain_http_are_explained(settings: Any) -> None:
    """DEBUG off serves cookies with Secure: on a plain http:// address the browser never sends them
    back, so every form fails the CSRF check. The page says why and what to do, instead of 「戻って再読み込み」
    forever; over https the hint is not shown."""
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = True
    browser = Client(enforce_csrf_checks=True)
    page = browser.post("/accounts/login/", {"username": "a@example.jp", "password": "x"}).content.decode()
    assert "https://" in page and "SECURE_COOKIES=false" in page
    secure = browser.post("/accounts/login/", {"username": "a@example.jp", "password": "x"}, secure=True)
    assert secure.status_code == 403 and "SECURE_COOKIES" not in secure.content.decode()
    settings.CSRF_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE = False
    assert "SECURE_COOKIES" not in browser.post("/accounts/login/", {}).content.decode()


def test_forbidden_and_server_error_pages_are_japanese() -> None:
    request = RequestFactory().get("/")
    assert "一時的なエラーが発生しました" in defaults.server_error(request).content.decode()
    request.user = user("x@example.jp")
    forbidden = defaults.permission_denied(request, Exception()).content.decode()
    assert "この操作はできません" in forbidden and "マイページへ" in forbidden
