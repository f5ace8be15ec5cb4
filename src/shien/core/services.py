"""Writes of the core app."""

from __future__ import annotations

from typing import Any

from django.db import models

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
