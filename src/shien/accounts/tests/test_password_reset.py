"""Password reset: the same answer whether or not the address is registered, the mail through the task
queue, and limits per address (no more mail, the same answer) and per client (429)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.test import Client

from shien.accounts.models import MailRequest, User
from shien.applications.tests.factories import user

pytestmark = pytest.mark.django_db
DONE = "/accounts/password_reset/done/"


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def reset(capture: Any, email: str, ip: str = "192.0.2.1") -> Any:
    with capture(execute=True):
        return Client(REMOTE_ADDR=ip).post("/accounts/password_reset/", {"email": email})


def test_the_mail_is_queued_and_its_link_sets_a_new_password(django_capture_on_commit_callbacks: Any) -> None:
    user("demo@shien.example")
    with django_capture_on_commit_callbacks() as queued:
        answer = Client().post("/accounts/password_reset/", {"email": "Demo@shien.example"})
        assert answer.status_code == 302 and answer.url == DONE
        assert mail.outbox == []  # not sent in the request: a task, sent once the request commits
    for callback in queued:
        callback()
    (message,) = mail.outbox
    assert message.to == ["demo@shien.example"] and "パスワードの再設定" in message.subject
    url = re.search(r"http://[^\s]+(/accounts/reset/[^\s]+/)", message.body).group(1)
    client = Client()
    form = client.get(url, follow=True)
    assert form.status_code == 200 and "新しいパスワード" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "sumire-no-hana-2024", "new_password2": "sumire-no-hana-2024"},
    )
    assert done.status_code == 302
    assert User.objects.get(email="demo@shien.example").check_password("sumire-no-hana-2024")


def test_the_fourth_reset_for_one_address_in_an_hour_sends_no_mail_and_the_same_answer(
    django_capture_on_commit_callbacks: Any, clock: Clock
) -> None:
    start = clock.now()  # frozen
    user("demo@shien.example")
    answers = [
        reset(django_capture_on_commit_callbacks, "demo@shien.example", ip=f"192.0.2.{n}") for n in range(5)
    ]
    assert [(a.status_code, a.url) for a in answers] == [(302, DONE)] * 5
    assert [m.to for m in mail.outbox] == [["demo@shien.example"]] * 3
    unknown = reset(django_capture_on_commit_callbacks, "nobody@shien.example", ip="192.0.2.50")
    assert (unknown.status_code, unknown.url) == (302, DONE) and len(mail.outbox) == 3
    page = Client().get(DONE).content.decode()
    assert "1時間に3通まで" in page and "数分かかる" in page
    clock.set(start + timedelta(hours=1, seconds=1))
    reset(django_capture_on_commit_callbacks, "demo@shien.example", ip="192.0.2.60")
    assert len(mail.outbox) == 4
    assert MailRequest.objects.filter(kind="password_reset", outcome="suppressed").count() == 2
    # each kind has its own count: a stranger's resets do not hold back the sign-up mail, nor the reverse
    with django_capture_on_commit_callbacks(execute=True):
        Client(REMOTE_ADDR="192.0.2.61").post(
            "/accounts/signup/", {"name": "x", "email": "demo@shien.example"}
        )
    assert "利用登録しようとした人がいます" in mail.outbox[-1].subject and len(mail.outbox) == 5


def test_the_eleventh_mail_request_from_one_client_gets_429(
    django_capture_on_commit_callbacks: Any, clock: Clock
) -> None:
    start = clock.now()  # frozen
    user("demo@shien.example")
    client = Client(REMOTE_ADDR="192.0.2.1")
    for n in range(5):  # sign-ups and resets share the client's limit
        with django_capture_on_commit_callbacks(execute=True):
            assert (
                client.post("/accounts/signup/", {"name": "x", "email": f"s{n}@example.jp"}).status_code
                == 200
            )
            assert client.post("/accounts/password_reset/", {"email": f"r{n}@example.jp"}).status_code == 302
    refused = reset(django_capture_on_commit_callbacks, "demo@shien.example")
    assert refused.status_code == 429 and refused["Retry-After"] == str(60 * 60)
    assert "しばらくおいてから" in refused.content.decode() and "60分ほど" in refused.content.decode()
    assert [m.to[0] for m in mail.outbox] == [f"s{n}@example.jp" for n in range(5)]  # no reset: r* unknown
    clock.set(start + timedelta(hours=1, seconds=1))
    assert reset(django_capture_on_commit_callbacks, "demo@shien.example").status_code == 302
    assert mail.outbox[-1].to == ["demo@shien.example"]
