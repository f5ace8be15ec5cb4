"""The health check and the audit log, on the real database (the home page: shien.portal's tests)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from shien.core.models import AuditLog
from shien.core.services import audit_record
from shien.programs.models import News

pytestmark = pytest.mark.django_db


def test_healthz(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_audit_record_names_the_object_and_actor() -> None:
    user = get_user_model().objects.create_user("staff", password="x")  # noqa: S106
    news = News.objects.create(slug="s", title="t", published_at="2024-03-18T10:00:00+09:00")
    entry = audit_record(actor=user, action="news.publish", obj=news, reason="demo", data={"a": 1})
    assert (entry.object_type, entry.object_id, entry.actor) == ("programs.news", str(news.pk), user)
    assert AuditLog.objects.get().data == {"a": 1}
