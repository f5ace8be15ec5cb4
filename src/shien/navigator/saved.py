"""Saved 診断 results: a signed-in user keeps a result (its answers and the profile it was judged on),
finds it again, and deletes it. The application side creates drafts from them (one way: navigator
imports nothing from applications)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from shien.accounts.models import User
from shien.core.services import audit_record
from shien.navigator.models import SavedDiagnosis
from shien.rules import clock
from shien.rules.schema import Profile
from shien.rules.text import wareki_datetime


def _diagnosis_identity(values: dict[str, Any]) -> dict[str, Any]:
    """The answers that decide a 診断 (not the 判定日), without empty fields, lists sorted."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "as_of" or value in ("", None, []):
            continue
        out[key] = sorted(value) if isinstance(value, list) else value
    return out


@transaction.atomic
def diagnosis_save(*, user: User, values: dict[str, Any], profile: Profile, title: str = "") -> Any:
    """Keep a 診断 result (its answers and the profile it was judged on); the same answers saved
    again (a double click, a second visit) return the earlier record."""
    answers = _diagnosis_identity(values)
    User.objects.select_for_update().filter(pk=user.pk).first()  # one save at a time per user
    for existing in SavedDiagnosis.objects.filter(user=user):
        if existing.answers == answers:
            return existing
    document = profile.model_dump(mode="json", exclude_none=True)
    document.pop("as_of", None)
    saved = SavedDiagnosis.objects.create(
        user=user,
        title=title.strip()[:100] or f"診断 {wareki_datetime(clock.now())}"[:100],
        answers=answers,
        profile=document,
    )
    audit_record(actor=user, action="diagnosis.save", obj=saved)
    return saved


def diagnosis_find(user: User, values: dict[str, Any]) -> Any | None:
    answers = _diagnosis_identity(values)
    return next((d for d in SavedDiagnosis.objects.filter(user=user) if d.answers == answers), None)


@transaction.atomic
def diagnosis_delete(*, user: User, diagnosis_id: int) -> None:
    saved = SavedDiagnosis.objects.filter(user=user, pk=diagnosis_id).first()
    if saved is None:
        return  # already deleted (a double click) or not this user's: nothing to do
    audit_record(actor=user, action="diagnosis.delete", obj=saved)
    saved.delete()
