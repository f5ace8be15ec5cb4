"""The audit log: who changed what, when and why. Every state change writes one row."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = "監査ログ"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"


class Notification(models.Model):
    """The in-app inbox: one message to one user. `key` makes a repeated notice (a retried job, a
    reminder run twice) one row. It is also the outbox of its email: `email_wanted` rows not yet
    `emailed_at` are sent after the commit and retried (`deliver_mail`) until `MAX_EMAIL_ATTEMPTS`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    title = models.CharField("件名", max_length=200)
    body = models.TextField("本文", blank=True)
    url = models.CharField(max_length=300, blank=True)
    key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_wanted = models.BooleanField(default=False)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_error = models.CharField(max_length=300, blank=True)
    email_lease_until = models.DateTimeField(null=True, blank=True)  # a sender is sending it until then

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "お知らせ"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], condition=~models.Q(key=""), name="unique_notification_key"
            )
        ]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(
                fields=["created_at"],
                condition=models.Q(email_wanted=True, emailed_at=None),
                name="notification_email_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"
