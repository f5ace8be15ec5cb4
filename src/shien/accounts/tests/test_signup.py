"""Sign-up: confirmed by mail, and the same answer whether or not the address is registered."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.test import Client

from shien.accounts.mail_throttle import address_key
from shien.accounts.models import MailRequest, User
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
    assert weak.status_code == 400 and "error-summary" in weak.content.decode()
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


# -- limits on the mail: per address, per client (accounts.mail_throttle) ---------------------------


def post_signup(
    capture: Any, email: str, ip: str = "192.0.2.1", name: str = "山田 太郎", **extra: Any
) -> Any:
    with capture(execute=True):
        return Client(REMOTE_ADDR=ip, **extra).post("/accounts/signup/", {"name": name, "email": email})


def test_the_fourth_sign_up_for_one_address_in_an_hour_sends_no_mail_and_shows_the_same_page(
    django_capture_on_commit_callbacks: Any, clock: Clock
) -> None:
    start = clock.now()  # frozen
    user("taken@example.jp")
    for address in ("victim@example.jp", "taken@example.jp"):  # a new address and a registered one
        mail.outbox.clear()
        pages = [  # from different clients: the address's own limit
            post_signup(django_capture_on_commit_callbacks, address.upper(), ip=f"192.0.2.{n}")
            for n in range(1, 6)
        ]
        assert [p.status_code for p in pages] == [200] * 5
        assert len(mail.outbox) == 3 and {m.to[0] for m in mail.outbox} == {address}
        assert len({p.content for p in pages}) == 1  # the 4th and 5th: the same page as the 1st
        assert "1時間に3通まで" in pages[0].content.decode() and "数分かかる" in pages[0].content.decode()
    # an hour later the address gets mail again
    mail.outbox.clear()
    clock.set(start + timedelta(minutes=59))
    post_signup(django_capture_on_commit_callbacks, "victim@example.jp", ip="192.0.2.9")
    assert mail.outbox == []
    clock.set(start + timedelta(hours=1, seconds=1))
    post_signup(django_capture_on_commit_callbacks, "victim@example.jp", ip="192.0.2.9")
    assert [m.to for m in mail.outbox] == [["victim@example.jp"]]
    # the address is stored only as a keyed hash
    stored = list(MailRequest.objects.values_list("target", "client"))
    assert stored and not any("example.jp" in f"{target}{client}" for target, client in stored)
    assert {target for target, _ in stored} == {
        address_key("victim@example.jp"),
        address_key("taken@example.jp"),
    }


def test_the_eleventh_request_from_one_client_in_an_hour_gets_429(
    django_capture_on_commit_callbacks: Any, caplog: Any, clock: Clock
) -> None:
    start = clock.now()  # frozen
    for n in range(10):  # ten addresses: each its first mail
        clock.set(start + timedelta(minutes=n))
        assert post_signup(django_capture_on_commit_callbacks, f"a{n}@example.jp").status_code == 200
    assert len(mail.outbox) == 10
    caplog.set_level(logging.WARNING)
    clock.set(start + timedelta(minutes=30))
    refused = [  # a forged X-Forwarded-For is ignored without a trusted proxy: still the same client
        post_signup(
            django_capture_on_commit_callbacks, "b@example.jp", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}"
        )
        for n in range(3)
    ]
    assert [r.status_code for r in refused] == [429] * 3 and len(mail.outbox) == 10
    page = refused[0].content.decode()
    assert "1時間に10件を超えた" in page and "30分ほどおいて" in page
    assert refused[0]["Retry-After"] == str(30 * 60)  # when the first of the ten leaves the hour
    # counted, not recorded one by one: one row, one warning
    row = MailRequest.objects.get(outcome=MailRequest.Outcome.REFUSED)
    assert row.count == 3 and row.client == "192.0.2.1" and row.target == ""
    assert [r.name for r in caplog.records] == ["shien.accounts.mail_throttle"]  # not a line per refusal
    # another client is not held up
    assert post_signup(django_capture_on_commit_callbacks, "b@example.jp", ip="192.0.2.77").status_code == 200
    # when the first request leaves the hour, the client may send one more
    clock.set(start + timedelta(hours=1, seconds=1))
    assert post_signup(django_capture_on_commit_callbacks, "c@example.jp").status_code == 200
    assert post_signup(django_capture_on_commit_callbacks, "d@example.jp").status_code == 429
    # a day later the rows are gone (each request prunes what is older than the retention)
    clock.set(start + timedelta(days=1, hours=2))
    assert post_signup(django_capture_on_commit_callbacks, "e@example.jp").status_code == 200
    assert MailRequest.objects.count() == 1


def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_saw(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.MAIL_REQUEST_LIMIT_PER_CLIENT = 2
    sign = lambda email, seen: post_signup(  # noqa: E731
        django_capture_on_commit_callbacks, email, ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {seen}"
    )
    assert [sign(f"x{n}@example.jp", "203.0.113.5").status_code for n in range(3)] == [200, 200, 429]
    assert sign("y@example.jp", "203.0.113.6").status_code == 200  # another client behind the same proxy


def test_the_mails_never_carry_the_name_the_requester_typed(django_capture_on_commit_callbacks: Any) -> None:
    user("taken@example.jp")
    spam = "今すぐ http://spam.example/win をご覧ください"
    post_signup(django_capture_on_commit_callbacks, "new@example.jp", name=spam)
    post_signup(django_capture_on_commit_callbacks, "taken@example.jp", name=spam)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        text = f"{message.subject}\n{message.body}"
        assert "spam.example" not in text and "今すぐ" not in text and "様" not in text
    # the name still reaches the account, through the signed link (shown only to the mailbox's reader)
    confirm = Client().get(link(mail.outbox[0]))
    assert spam in confirm.content.decode()


@pytest.fixture
def race_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own for processes that commit: an SQLite file, or (when the suite runs on
    PostgreSQL) a scratch database on the same server, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'race.sqlite3'}"
        return
    import psycopg

    name = f"shien_race_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_simultaneous_requests_never_both_pass_a_limit_of_one(tmp_path: Path, race_database: str) -> None:
    """Separate processes (as server workers are) on one database of their own (the suite's kind: an
    SQLite file, where writers are serialised, or PostgreSQL, where advisory locks do it), all at the
    same instant: with a limit of 1 per address exactly one of them may send; with a client limit of 1
    exactly one passes."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shien.web.settings_test",
        "SHIEN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": race_database,
        "MAIL_REQUEST_LIMIT_PER_ADDRESS": "1",
        "MAIL_REQUEST_LIMIT_PER_CLIENT": "1",
    }
    python = sys.executable
    subprocess.run([python, "-m", "django", "migrate", "-v0"], env=env, check=True, timeout=120)
    start = time.time() + 4  # after every child has set Django up
    script = (
        "import django, json, sys, time; django.setup()\n"
        "from shien.accounts import mail_throttle as m\n"
        "mode, n, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])\n"
        "time.sleep(max(0, start - time.time()))\n"
        "client = '192.0.2.1' if mode == 'client' else f'192.0.2.{n + 10}'\n"
        "address = f'x{n}@example.jp' if mode == 'client' else 'victim@example.jp'\n"
        "d = m.admit(kind='signup', address=address, client=client)\n"
        "print(json.dumps([d.send, d.refused]))\n"
    )
    outcomes: dict[str, list[list[bool]]] = {}
    for mode in ("address", "client"):
        children = [
            subprocess.Popen(
                [python, "-c", script, mode, str(n), str(start)], env=env, stdout=subprocess.PIPE
            )
            for n in range(4)
        ]
        outcomes[mode] = [json.loads(child.communicate(timeout=120)[0]) for child in children]
        start = time.time() + 4
    assert sorted(outcomes["address"]) == [[False, False]] * 3 + [[True, False]]
    assert sorted(outcomes["client"]) == [[False, True]] * 3 + [[True, False]]


def test_a_refused_sign_up_answers_400_in_the_app_wording_without_echoing_a_megabyte(
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = sign_up("long@example.jp", django_capture_on_commit_callbacks, name="長" * 100_000)
    text = page.content.decode()
    assert page.status_code == 400 and not mail.outbox
    assert (
        "氏名は100文字以内で入力してください（いまは100,000文字。300文字を超える部分は表示していません）"
        in text
    )
    assert "文字以下でなければなりません" not in text  # not Django's own wording
    assert "長" * 300 in text and "長" * 301 not in text and len(text) < 50_000
    bad = sign_up("not-an-address", django_capture_on_commit_callbacks)
    assert bad.status_code == 400 and "メールアドレスの形式で入力してください" in bad.content.decode()
    assert Client().get("/accounts/signup/").status_code == 200
