"""Notifications: an in-app inbox row per user, and the same message by email once committed.

`notify` is idempotent by `key`: a retried job or a reminder run twice leaves one row and one email.
Call it inside the transaction of the change it reports; the email goes out on commit.
The inbox reads only the user's own rows (`inbox_for`, `notification_get`); marking read is audited.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from shien.core.models import Notification
from shien.core.services import audit_record
from shien.rules.errors import DomainError


def notify(
    *, user: object, kind: str, title: str, body: str = "", url: str = "", key: str = "", email: bool = True
) -> Notification | None:
    """One inbox message (None when `key` was already used for this user)."""
    if key and Notification.objects.filter(user=user, key=key).exists():
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user, kind=kind, title=title[:200], body=body, url=url[:300], key=key[:200]
            )
    except IntegrityError:  # the same key from a concurrent run
        return None
    if email:
        transaction.on_commit(lambda: _email(note.pk))
    return note


def _email(notification_id: int) -> None:
    note = Notification.objects.select_related("user").filter(pk=notification_id, emailed_at=None).first()
    if note is None:
        return
    link = f"\n\n{settings.SITE_URL.rstrip('/')}{note.url}" if note.url else ""
    sent = send_mail(
        f"【shien】{note.title}", f"{note.body}{link}", None, [note.user.email], fail_silently=True
    )
    if sent:
        Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())


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
