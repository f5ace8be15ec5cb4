"""Notifications: an in-app inbox row per user, and the same message by email once committed.

`notify` is idempotent by `key`: a retried job or a reminder run twice leaves one row and one email.
Call it inside the transaction of the change it reports; nothing is sent for a change that rolls back.
The row is the email's outbox. Its email is a task (`send_notification_email`, django-tasks): with the
database backend (production, the demo) the task row is written in the same transaction as the
notification, so a commit has both and a rollback neither, and the task worker (`shien manage
db_worker`, a process of its own that `shien serve` starts) sends it: a slow or failing mail server
never holds up the request. A failed send is tried again by a later task, up to `MAX_EMAIL_ATTEMPTS`
times in all; whatever is left (no worker running, a worker killed mid-send) is sent by
`deliver_pending` (the `deliver_mail` command, run by cron). A sender claims a row for `EMAIL_LEASE`
before sending it, so two senders never send it twice. With the immediate backend (the tests) the
task runs when the transaction commits.
The inbox reads only the user's own rows (`inbox_for`, `notification_get`); marking read is audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django_tasks import task

from shien.core.errors import DomainError
from shien.core.models import Notification
from shien.core.services import audit_record
from shien.rules import clock

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5
EMAIL_LEASE = timedelta(minutes=5)  # longer than EMAIL_TIMEOUT: a sender holds a row this long at most
# wait before the 2nd, 3rd, 4th and 5th attempt of a send that failed (a mail server that is down)
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


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
            if email:
                _enqueue_email(note.pk)
    except IntegrityError:  # the same key again (a retry, a concurrent run)
        return None
    return note


def _queue_in_database() -> bool:
    """Whether the task queue is a table of this database (then a task enqueued in the transaction
    commits or rolls back with it)."""
    from django_tasks_db import DatabaseBackend

    return isinstance(send_notification_email.get_backend(), DatabaseBackend)


def _enqueue(queued: Any, *args: Any, after: timedelta | None = None) -> None:
    """Queue a task with the caller's transaction: with the database queue the task row is written in
    it (committed with the change or not at all); with a queue outside the database (the immediate
    backend of the tests) once it commits."""
    if after is not None:
        queued = queued.using(run_after=clock.now() + after)
    if _queue_in_database():
        queued.enqueue(*args)
    else:
        transaction.on_commit(lambda: queued.enqueue(*args))


def _enqueue_email(notification_id: int, *, after: timedelta | None = None) -> None:
    _enqueue(send_notification_email, notification_id, after=after)


@task()
def send_notification_email(notification_id: int) -> str:
    """The task: send one notification's email. A failed send is queued again for later (the
    attempts are counted on the row, so this stops after `MAX_EMAIL_ATTEMPTS`)."""
    if deliver(notification_id):
        return "sent"
    retry = (
        _pending()
        .filter(pk=notification_id, email_lease_until=None)  # failed and released, not held by another
        .exclude(email_error="")
        .values_list("email_attempts", flat=True)
        .first()
    )
    if retry is None or not send_notification_email.get_backend().supports_defer:
        return "not sent"  # sent or being sent elsewhere, no attempts left, or no later run possible
    _enqueue_email(notification_id, after=RETRY_DELAYS[min(retry, len(RETRY_DELAYS)) - 1])
    return f"failed (attempt {retry}); queued again"


def email_address(*, to: str, subject: str, body: str) -> None:
    """An email to an address that has no account (yet): the sign-up link, a note to the owner of a
    registered address, an invitation to a newcomer. Like a notification's email it is a task committed
    with the caller's transaction and sent by the task worker, never in the request, and a failed send
    is tried again later (up to `MAX_EMAIL_ATTEMPTS` in all). There is no inbox row to keep it, so
    only the queue holds it until it is sent."""
    _enqueue(send_address_email, to, subject, body, 1)


@task()
def send_address_email(to: str, subject: str, body: str, attempt: int) -> str:
    try:
        send_mail(subject, body, None, [to])
    except Exception as exc:  # the mail server: try again later, as for notifications
        logger.warning("mail to an address failed (attempt %s): %s", attempt, exc)
        if attempt >= MAX_EMAIL_ATTEMPTS or not send_address_email.get_backend().supports_defer:
            return f"failed (attempt {attempt}); given up"
        _enqueue(send_address_email, to, subject, body, attempt + 1, after=RETRY_DELAYS[attempt - 1])
        return f"failed (attempt {attempt}); queued again"
    return "sent"


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
    moment = clock.now()
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
    except Exception as exc:  # the mail server: try again later (a queued retry, deliver_pending)
        logger.warning("mail to notification %s failed: %s", note.pk, exc)
        Notification.objects.filter(pk=note.pk).update(
            email_lease_until=None, email_error=f"{type(exc).__name__}: {exc}"[:300]
        )
        return False
    Notification.objects.filter(pk=note.pk).update(
        emailed_at=clock.now(), email_lease_until=None, email_error=""
    )
    return True


def deliver_pending(*, older_than: timedelta = timedelta(minutes=1), limit: int = 1000) -> dict[str, int]:
    """Retry the emails not sent yet (a failed send, a worker that was not running or died first).
    Rows younger than `older_than` are left to the task worker that is about to send them."""
    cutoff = clock.now() - older_than
    ids = list(
        _pending().filter(created_at__lte=cutoff).order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    sent = sum(deliver(pk) for pk in ids)
    return {"tried": len(ids), "sent": sent, "failed": len(ids) - sent}


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
    updated = Notification.objects.filter(pk=note.pk, user=user, read_at=None).update(read_at=clock.now())
    if updated:
        audit_record(actor=user, action="notification.read", obj=note)
    note.refresh_from_db(fields=["read_at"])
    return note


@transaction.atomic
def mark_all_read(user: Any) -> int:
    updated = inbox_for(user).filter(read_at=None).update(read_at=clock.now())
    if updated:
        audit_record(actor=user, action="notification.read_all", obj=user, data={"count": updated})
    return updated
