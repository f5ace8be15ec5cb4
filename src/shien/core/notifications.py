"""Notifications: an in-app inbox row per user, and the same message by email once committed.

`notify` is idempotent by `key`: a retried job or a reminder run twice leaves one row and one email.
Call it inside the transaction of the change it reports; nothing is sent for a change that rolls back.
The row is the email's outbox: after the commit the email is handed to this process's mail thread
(`SHIEN_MAIL_DELIVERY = "background"`, so a slow or failing mail server never holds up the request)
or sent at once (`"immediate"`, the tests). A send that fails, or a process that dies before it
sends, leaves the row pending; `deliver_pending` (the `deliver_mail` command, run by cron) retries it
up to `MAX_EMAIL_ATTEMPTS` times. A sender claims a row before sending it, so two never send it twice.
The inbox reads only the user's own rows (`inbox_for`, `notification_get`); marking read is audited.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from shien.core.models import Notification
from shien.core.services import audit_record
from shien.rules.errors import DomainError

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5
EMAIL_LEASE = timedelta(minutes=5)  # longer than EMAIL_TIMEOUT: a sender holds a row this long at most


def notify(
    *, user: object, kind: str, title: str, body: str = "", url: str = "", key: str = "", email: bool = True
) -> Notification | None:
    """One inbox message (None when `key` was already used for this user)."""
    try:  # the unique (user, key) decides: no read before the write
        with transaction.atomic():
            note = Notification.objects.create(
                user=user,
                kind=kind,
                title=title[:200],
                body=body,
                url=url[:300],
                key=key[:200],
                email_wanted=email,
            )
    except IntegrityError:  # the same key again (a retry, a concurrent run)
        return None
    if email:
        transaction.on_commit(lambda: dispatch(note.pk))
    return note


def dispatch(notification_id: int) -> None:
    """Send a committed message's email now, or hand it to this process's mail thread."""
    if getattr(settings, "SHIEN_MAIL_DELIVERY", "immediate") == "background":
        _mail_thread().put(notification_id)
    else:
        deliver(notification_id)


def _pending() -> QuerySet[Notification]:
    """Emails still to send: wanted, not sent, attempts left, and the recipient still has an account."""
    return Notification.objects.filter(
        email_wanted=True, emailed_at=None, email_attempts__lt=MAX_EMAIL_ATTEMPTS, user__is_active=True
    )


def deliver(notification_id: int) -> bool:
    """Send one pending email (True when sent). The row is claimed for `EMAIL_LEASE` in one UPDATE
    (another sender finds it taken), the mail server is talked to outside any transaction (a slow one
    holds no lock and no write), and the result is recorded after. A sender that dies mid-send leaves a
    lease that expires: the email is sent at least once and, short of that, never twice."""
    moment = timezone.now()
    free = Q(email_lease_until=None) | Q(email_lease_until__lt=moment)
    claimed = (
        _pending()
        .filter(free, pk=notification_id)
        .update(email_lease_until=moment + EMAIL_LEASE, email_attempts=F("email_attempts") + 1)
    )
    if not claimed:
        return False
    note = Notification.objects.select_related("user").get(pk=notification_id)
    link = f"\n\n{settings.SITE_URL.rstrip('/')}{note.url}" if note.url else ""
    try:
        send_mail(f"【shien】{note.title}", f"{note.body}{link}", None, [note.user.email])
    except Exception as exc:  # the mail server: try again later (deliver_pending)
        logger.warning("mail to notification %s failed: %s", note.pk, exc)
        Notification.objects.filter(pk=note.pk).update(
            email_lease_until=None, email_error=f"{type(exc).__name__}: {exc}"[:300]
        )
        return False
    Notification.objects.filter(pk=note.pk).update(
        emailed_at=timezone.now(), email_lease_until=None, email_error=""
    )
    return True


def deliver_pending(*, older_than: timedelta = timedelta(minutes=1), limit: int = 1000) -> dict[str, int]:
    """Retry the emails not sent yet (a failed send, a process that died first). Rows younger than
    `older_than` are left to the thread that is sending them."""
    cutoff = timezone.now() - older_than
    ids = list(
        _pending().filter(created_at__lte=cutoff).order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    sent = sum(deliver(pk) for pk in ids)
    return {"tried": len(ids), "sent": sent, "failed": len(ids) - sent}


# -- the mail thread: one per process, started on first use (after the server forked its workers) -----


_thread_lock = threading.Lock()
_thread_state: dict[str, Any] = {"pid": None, "queue": None}


def _mail_thread() -> queue.Queue[int]:
    with _thread_lock:
        if _thread_state["pid"] != os.getpid():  # first use in this process (or a forked child)
            jobs: queue.Queue[int] = queue.Queue()
            threading.Thread(target=_send_forever, args=(jobs,), name="shien-mail", daemon=True).start()
            _thread_state.update(pid=os.getpid(), queue=jobs)
            atexit.register(wait_for_mail_thread, timeout=10)  # a server stopping sends what it holds
        return _thread_state["queue"]  # type: ignore[no-any-return]


def _send_forever(jobs: queue.Queue[int]) -> None:
    while True:
        notification_id = jobs.get()
        try:
            close_old_connections()
            deliver(notification_id)
        except Exception:  # never let one message stop the thread; the row stays pending
            logger.exception("mail thread: notification %s", notification_id)
        finally:
            if jobs.empty():  # idle: hold no database connection until the next message
                connection.close()
            jobs.task_done()


def wait_for_mail_thread(timeout: float | None = None) -> bool:
    """Wait until this process's mail thread has sent what it was given (True), or `timeout` seconds
    (False: the rest stays pending for `deliver_mail`)."""
    jobs = _thread_state["queue"] if _thread_state["pid"] == os.getpid() else None
    if jobs is None:
        return True
    deadline = None if timeout is None else time.monotonic() + timeout
    with jobs.all_tasks_done:
        while jobs.unfinished_tasks:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            jobs.all_tasks_done.wait(left)
    return True


# -- the inbox: reads and writes of one user's own messages -------------------------------------------


def inbox_for(user: Any) -> QuerySet[Notification]:
    """The user's own messages, newest first (nobody reads another user's inbox)."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    return inbox_for(user).filter(read_at=None).count()


def notification_get(user: Any, notification_id: int) -> Notification:
    """One of the user's messages; another user's gives the same answer as a missing one."""
    note = inbox_for(user).filter(pk=notification_id).first()
    if note is None:
        raise DomainError("not_found", "お知らせが見つかりません")
    return note


@transaction.atomic
def mark_read(user: Any, note: Notification) -> Notification:
    """Mark one message read (again: nothing changes, nothing is recorded)."""
    updated = Notification.objects.filter(pk=note.pk, user=user, read_at=None).update(read_at=timezone.now())
    if updated:
        audit_record(actor=user, action="notification.read", obj=note)
    note.refresh_from_db(fields=["read_at"])
    return note


@transaction.atomic
def mark_all_read(user: Any) -> int:
    updated = inbox_for(user).filter(read_at=None).update(read_at=timezone.now())
    if updated:
        audit_record(actor=user, action="notification.read_all", obj=user, data={"count": updated})
    return updated
