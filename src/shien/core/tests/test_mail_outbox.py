"""The inbox row is the email's outbox: sent once after the commit, retried when the mail server fails,
never sent twice, never sent for a change that rolled back, and never holding up the request."""

from __future__ import annotations

import smtplib
import threading
import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from shien.accounts.models import User
from shien.core import notifications
from shien.core.models import Notification
from shien.core.notifications import MAX_EMAIL_ATTEMPTS, deliver, deliver_pending, notify

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
FAILING = "shien.core.tests.test_mail_outbox.FailingBackend"
SLOW = "shien.core.tests.test_mail_outbox.SlowBackend"
MAIL_SERVER_ANSWERS = threading.Event()


class FailingBackend(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class SlowBackend(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        MAIL_SERVER_ANSWERS.wait(10)
        return super().send_messages(messages)


@pytest.fixture
def me() -> User:
    return User.objects.create_user("me@example.jp", "correct horse battery")


def test_sent_once_after_the_commit_with_a_link(
    me: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    settings.SITE_URL = "https://shien.example.jp/"
    with django_capture_on_commit_callbacks(execute=True):
        note = notify(
            user=me, kind="t", title="交付が決定しました", body="本文", url="/applications/1/", key="k"
        )
        again = notify(user=me, kind="t", title="交付が決定しました", key="k")  # a retried job
        assert len(mail.outbox) == 0  # nothing before the commit
    assert note is not None and again is None
    assert [(m.subject, m.to) for m in mail.outbox] == [("【shien】交付が決定しました", ["me@example.jp"])]
    assert mail.outbox[0].body == "本文\n\nhttps://shien.example.jp/applications/1/"
    note.refresh_from_db()
    assert note.emailed_at is not None and note.email_attempts == 1
    assert deliver(note.pk) is False and len(mail.outbox) == 1  # a sent row is never sent again


def test_nothing_is_sent_for_a_change_that_rolled_back(
    me: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):  # noqa: PT012
        with transaction.atomic():
            notify(user=me, kind="t", title="採択されました", key="r")
            raise RuntimeError
    assert mail.outbox == [] and not Notification.objects.exists()


def test_inbox_only_messages_are_never_mailed(me: User, settings: Any) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    note = notify(user=me, kind="t", title="既読のお知らせ", email=False)
    assert note is not None and not note.email_wanted
    assert deliver_pending(older_than=timedelta(0)) == {"tried": 0, "sent": 0, "failed": 0}
    assert mail.outbox == []


def test_a_failing_mail_server_leaves_the_mail_pending_then_it_is_retried(
    me: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = FAILING
    with django_capture_on_commit_callbacks(execute=True):
        note = notify(user=me, kind="t", title="申請を受け付けました", key="s")  # the request still succeeds
    assert note is not None
    note.refresh_from_db()
    assert note.emailed_at is None and note.email_attempts == 1
    assert note.email_error.startswith("SMTPServerDisconnected")
    assert deliver_pending() == {"tried": 0, "sent": 0, "failed": 0}  # younger than a minute: left alone
    settings.EMAIL_BACKEND = LOCMEM
    out = StringIO()
    call_command("deliver_mail", "--older-than", "0", stdout=out)
    assert "未送信のメール 1通: 送信 1通、失敗 0通" in out.getvalue()
    call_command("deliver_mail", "--older-than", "0", stdout=StringIO())  # cron again: nothing twice
    assert [m.subject for m in mail.outbox] == ["【shien】申請を受け付けました"]
    note.refresh_from_db()
    assert note.emailed_at is not None and note.email_attempts == 2 and note.email_error == ""


def test_retries_stop_after_the_last_attempt(me: User, settings: Any) -> None:
    settings.EMAIL_BACKEND = FAILING
    note = notify(user=me, kind="t", title="期限のお知らせ", key="d")
    assert note is not None
    results = [deliver_pending(older_than=timedelta(0)) for _ in range(MAX_EMAIL_ATTEMPTS + 2)]
    assert [r["tried"] for r in results] == [1] * MAX_EMAIL_ATTEMPTS + [0, 0]
    err = StringIO()
    note.refresh_from_db()
    assert note.email_attempts == MAX_EMAIL_ATTEMPTS and note.emailed_at is None
    settings.EMAIL_BACKEND = LOCMEM
    call_command("deliver_mail", "--older-than", "0", stdout=StringIO(), stderr=err)
    assert mail.outbox == [] and err.getvalue() == ""


@pytest.mark.django_db(transaction=True)
def test_background_delivery_does_not_hold_up_the_committing_request(settings: Any) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    settings.SHIEN_MAIL_DELIVERY = "background"
    me = User.objects.create_user("bg@example.jp", "correct horse battery")
    with transaction.atomic():
        note = notify(user=me, kind="t", title="採択されました", key="bg")
    notifications.wait_for_mail_thread()
    assert note is not None and [m.subject for m in mail.outbox] == ["【shien】採択されました"]
    assert Notification.objects.get(pk=note.pk).emailed_at is not None
    names = [t.name for t in threading.enumerate()]
    assert names.count("shien-mail") == 1  # one thread per process, reused


@pytest.mark.django_db(transaction=True)
def test_a_slow_mail_server_is_waited_for_only_as_long_as_asked(settings: Any) -> None:
    settings.EMAIL_BACKEND = SLOW
    settings.SHIEN_MAIL_DELIVERY = "background"
    me = User.objects.create_user("slow@example.jp", "correct horse battery")
    MAIL_SERVER_ANSWERS.clear()
    note = notify(user=me, kind="t", title="交付が決定しました", key="slow")  # returns at once
    assert note is not None and mail.outbox == []
    assert notifications.wait_for_mail_thread(timeout=0.2) is False  # a stopping server gives up
    started = time.monotonic()  # the send holds no lock: the rest of the app writes meanwhile
    Notification.objects.filter(pk=note.pk).update(read_at=timezone.now())
    User.objects.create_user("meanwhile@example.jp", "correct horse battery")
    assert time.monotonic() - started < 2
    MAIL_SERVER_ANSWERS.set()
    assert notifications.wait_for_mail_thread(timeout=10) is True
    assert [m.subject for m in mail.outbox] == ["【shien】交付が決定しました"]


def test_a_row_being_sent_is_left_to_its_sender_until_the_lease_ends(me: User, settings: Any) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    note = Notification.objects.create(user=me, kind="t", title="交付が決定しました", email_wanted=True)
    sending = timezone.now() + timedelta(minutes=4)  # another process claimed it and is sending
    Notification.objects.filter(pk=note.pk).update(email_lease_until=sending, email_attempts=1)
    assert deliver(note.pk) is False and mail.outbox == []  # skipped: neither waited for nor doubled
    assert deliver_pending(older_than=timedelta(0))["sent"] == 0
    Notification.objects.filter(pk=note.pk).update(email_lease_until=timezone.now() - timedelta(seconds=1))
    assert deliver(note.pk) is True and len(mail.outbox) == 1  # that sender died: the lease ran out
    note.refresh_from_db()
    assert note.email_attempts == 2 and note.email_lease_until is None


def test_mail_for_a_deactivated_account_is_not_retried(me: User, settings: Any) -> None:
    settings.EMAIL_BACKEND = FAILING
    note = notify(user=me, kind="t", title="期限のお知らせ", key="gone")
    assert note is not None
    User.objects.filter(pk=me.pk).update(is_active=False)
    settings.EMAIL_BACKEND = LOCMEM
    assert deliver_pending(older_than=timedelta(0))["tried"] == 0 and mail.outbox == []
