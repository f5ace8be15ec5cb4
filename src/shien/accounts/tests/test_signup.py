"""Sign-up: confirmed by mail, and the same answer whether or not the address is registered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from shien.accounts.models import User
from shien.applications.tests.factories import user
from shien.core.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def sign_up(email: str, capture: Any, name: str = "山田 太郎") -> Any:
    with capture(execute=True):
        return Client().post("/accounts/signup/", {"name": name, "email": email})


def link(message: Any) -> str:
    return (
        re.search(r"http://[^\s]+/accounts/signup/confirm/[^\s]+/", message.body)
        .group(0)
        .split("8000", 1)[-1]
    )


def test_the_answer_is_the_same_whether_or_not_the_address_is_registered(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user("taken@example.jp")
    taken = sign_up("Taken@example.jp", django_capture_on_commit_callbacks)
    new = sign_up("fresh@example.jp", django_capture_on_commit_callbacks)
    assert taken.status_code == new.status_code == 200
    page = lambda r, email: r.content.decode().replace(email, "ADDRESS")  # noqa: E731
    assert page(taken, "taken@example.jp") == page(new, "fresh@example.jp")
    assert dict(taken.headers).keys() == dict(new.headers).keys()
    assert "_auth_user_id" not in taken.client.session and "_auth_user_id" not in new.client.session
    # the owner is told; the new address gets the link; no account is made before the link is used
    to_owner, to_new = mail.outbox
    assert to_owner.to == ["taken@example.jp"] and "利用登録しようとした人がいます" in to_owner.subject
    assert "/accounts/signup/confirm/" not in to_owner.body and "/accounts/password_reset/" in to_owner.body
    assert to_new.to == ["fresh@example.jp"] and "/accounts/signup/confirm/" in to_new.body
    assert not User.objects.filter(email="fresh@example.jp").exists()
    assert User.objects.get(email="taken@example.jp").check_password("correct horse battery")


def test_the_link_sets_the_password_creates_the_account_once_and_logs_in(
    django_capture_on_commit_callbacks: Any,
) -> None:
    sign_up("new@example.jp", django_capture_on_commit_callbacks, name="後藤 花子")
    url = link(mail.outbox[0])
    client = Client()
    form = client.get(url)
    assert form.status_code == 200 and "後藤 花子" in form.content.decode()
    weak = client.post(url, {"password": "new@example", "password_again": "new@example"})
    assert weak.status_code == 200 and "error-summary" in weak.content.decode()
    differ = client.post(url, {"password": "sumire-no-hana-2024", "password_again": "sumire-no-hana-2025"})
    assert "1回目と同じパスワード" in differ.content.decode()
    done = client.post(url, {"password": "sumire-no-hana-2024", "password_again": "sumire-no-hana-2024"})
    assert done.status_code == 302 and done.url == "/mypage/"
    created = User.objects.get(email="new@example.jp")
    assert created.name == "後藤 花子" and client.session["_auth_user_id"] == str(created.pk)
    assert AuditLog.objects.filter(action="user.signup", object_id=str(created.pk)).exists()
    again = Client().get(url)  # used: the address is registered, nothing is created twice
    assert again.status_code == 302 and again.url == "/accounts/login/"
    assert User.objects.filter(email="new@example.jp").count() == 1


def test_a_forged_or_expired_link_is_refused(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sign_up("late@example.jp", django_capture_on_commit_callbacks)
    url = link(mail.outbox[0])
    forged = Client().get(url.replace("/confirm/", "/confirm/x"))
    assert forged.status_code == 400 and "有効期限" in forged.content.decode()
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 24 * 60 * 60 + 5)
    expired = Client().post(url, {"password": "sumire-no-hana-2024", "password_again": "sumire-no-hana-2024"})
    assert expired.status_code == 400 and not User.objects.filter(email="late@example.jp").exists()
