"""The inbox row is the email's outbox: sent once after the commit, retried when the mail server fails,
never sent twice, never sent for a change that rolled back, and never holding up the request (the
email is a task in the database queue, sent by the task worker)."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from shien.accounts.models import User
from shien.core import notifications
from shien.core.models import Notification
from shien.core.notifications import MAX_EMAIL_ATTEMPTS, deliver, deliver_pending, email_address, notify

pytestmark = pytest.mark.django_db
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
FAILING = "shien.core.tests.test_mail_outbox.FailingBackend"


class FailingBackend(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture
def database_queue(settings: Any) -> None:
    """The production task queue (django-tasks' database backend) instead of the tests' immediate one."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


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


def _run_task_worker() -> None:
    """What `shien serve` runs beside the server: the django-tasks database worker (here until the
    queue is empty)."""
    # The worker closes "old" connections between tasks; inside the test's transaction (autocommit off)
    # Django counts this one as old and PostgreSQL would lose the test's data with it.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command(
            "db_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval", "0", verbosity=0
        )


def test_with_the_database_queue_the_email_is_a_task_committed_with_its_row(
    me: User, settings: Any, database_queue: None
) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    settings.SITE_URL = "https://shien.example.jp"
    with transaction.atomic():
        note = notify(user=me, kind="t", title="採択されました", url="/applications/1/", key="q")
        assert note is not None
        queued = DBTaskResult.objects.get()  # written in the same transaction as the notification
    assert queued.task_path == "shien.core.notifications.send_notification_email"
    assert queued.args_kwargs == {"args": [note.pk], "kwargs": {}} and queued.status == "READY"
    assert mail.outbox == []  # the request returned without talking to the mail server
    _run_task_worker()
    assert [(m.subject, m.to) for m in mail.outbox] == [("【shien】採択されました", ["me@example.jp"])]
    queued.refresh_from_db()
    assert queued.status == "SUCCESSFUL" and queued.return_value == "sent"
    _run_task_worker()  # the worker again: nothing is sent twice
    assert len(mail.outbox) == 1 and Notification.objects.get().emailed_at is not None


def test_with_the_database_queue_a_rolled_back_change_leaves_no_task(
    me: User, settings: Any, database_queue: None
) -> None:
    settings.EMAIL_BACKEND = LOCMEM
    with pytest.raises(RuntimeError), transaction.atomic():
        notify(user=me, kind="t", title="採択されました", key="gone")
        raise RuntimeError
    assert not DBTaskResult.objects.exists() and not Notification.objects.exists()
    _run_task_worker()
    assert mail.outbox == []


def test_a_failed_send_is_queued_again_later_until_the_last_attempt(
    me: User, settings: Any, database_queue: None
) -> None:
    settings.EMAIL_BACKEND = FAILING
    note = notify(user=me, kind="t", title="交付が決定しました", key="retry")
    assert note is not None
    for attempt in range(1, MAX_EMAIL_ATTEMPTS + 1):
        _run_task_worker()  # the retry waits for its time: one attempt per run
        note.refresh_from_db()
        assert note.email_attempts == attempt and note.emailed_at is None
        later = DBTaskResult.objects.ready().count()
        waiting = DBTaskResult.objects.filter(status="READY", run_after__gt=timezone.now())
        assert later == 0 and waiting.count() == (1 if attempt < MAX_EMAIL_ATTEMPTS else 0)
        if attempt < MAX_EMAIL_ATTEMPTS:
            delay = waiting.get().run_after - timezone.now()
            assert notifications.RETRY_DELAYS[attempt - 1] - timedelta(seconds=30) < delay
            waiting.update(run_after=timezone.now())  # the clock moves past the delay
    assert mail.outbox == []


def test_a_retry_waiting_in_the_queue_sends_once_the_mail_server_answers(
    me: User, settings: Any, database_queue: None
) -> None:
    settings.EMAIL_BACKEND = FAILING
    note = notify(user=me, kind="t", title="申請を受け付けました", key="later")
    assert note is not None
    _run_task_worker()
    settings.EMAIL_BACKEND = LOCMEM
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    _run_task_worker()
    call_command("deliver_mail", "--older-than", "0", stdout=StringIO())  # cron as well: still once
    assert [m.subject for m in mail.outbox] == ["【shien】申請を受け付けました"]
    note.refresh_from_db()
    assert note.email_attempts == 2 and note.emailed_at is not None


def test_an_email_to_an_address_is_a_queued_task_tried_again_until_it_is_sent(
    settings: Any, database_queue: None
) -> None:
    """Sign-up links and invitations to newcomers have no inbox row: the queue keeps them, the request
    never talks to the mail server, a rollback sends nothing, and a failed send is tried again."""
    settings.EMAIL_BACKEND = FAILING
    with pytest.raises(RuntimeError), transaction.atomic():
        email_address(to="new@example.jp", subject="【shien】利用登録の確認", body="rolled back")
        raise RuntimeError
    assert not DBTaskResult.objects.exists()
    email_address(to="new@example.jp", subject="【shien】利用登録の確認", body="リンク")
    assert mail.outbox == [] and DBTaskResult.objects.ready().count() == 1
    _run_task_worker()  # the mail server is down: queued again for later
    waiting = DBTaskResult.objects.filter(status="READY", run_after__gt=timezone.now())
    assert waiting.get().args_kwargs["args"][-1] == 2
    settings.EMAIL_BACKEND = LOCMEM
    waiting.update(run_after=timezone.now())
    _run_task_worker()
    _run_task_worker()  # once sent, nothing is left to send again
    assert [(m.subject, m.to) for m in mail.outbox] == [("【shien】利用登録の確認", ["new@example.jp"])]


def test_an_email_to_an_address_gives_up_after_the_last_attempt(settings: Any, database_queue: None) -> None:
    settings.EMAIL_BACKEND = FAILING
    email_address(to="new@example.jp", subject="件名", body="本文")
    for _ in range(MAX_EMAIL_ATTEMPTS):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
        _run_task_worker()
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == MAX_EMAIL_ATTEMPTS


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
