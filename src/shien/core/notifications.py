"""Notifications: an in-app inbox row per user, and the same message by email once committed.

`notify` is idempotent by `key`: a retried job or a reminder run twice leaves one row and one email.
Call it inside the transaction of the change it reports; the email goes out on commit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from shien.core.models import Notification


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
