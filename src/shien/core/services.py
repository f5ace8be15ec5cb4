"""Writes of the core app."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from shien.core.models import AuditLog


def audit_record(
    *, actor: Any | None, action: str, obj: models.Model, reason: str = "", data: dict[str, Any] | None = None
) -> AuditLog:
    """Record a state change; call inside the transaction that makes the change."""
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        reason=reason,
        data=data or {},
    )


def delete_with_file(
    *, actor: Any | None, action: str, obj: models.Model, file_field: str = "file", data: dict[str, Any]
) -> None:
    """Delete a row that owns a stored file: audited with what it was, the row in the caller's
    transaction, the file only once that commits (a rollback keeps both)."""
    stored = getattr(obj, file_field)
    storage, name = stored.storage, stored.name
    audit_record(actor=actor, action=action, obj=obj, data=data)
    obj.delete()
    transaction.on_commit(lambda: storage.delete(name))


def created_before(*, actor: Any, action: str, key: str) -> list[int]:
    """The ids of what `actor` created by `action` with this form's idempotency key (a double click, a
    retry). Locks the actor's row first, so two such requests of one user run one after the other;
    call inside the creating transaction, and record the key in the creation's audit data."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
    ids = AuditLog.objects.filter(action=action, actor=actor, data__idempotency_key=key)
    return [int(i) for i in ids.values_list("object_id", flat=True)]
