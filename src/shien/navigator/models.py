"""Saved 診断 results: a signed-in user keeps the answers of a 診断 to prefill an application later."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedDiagnosis(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="diagnoses")
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="diagnoses"
    )
    title = models.CharField("名前", max_length=100, blank=True)
    answers = models.JSONField("回答（診断フォームの値）")
    profile = models.JSONField("判定に使ったプロフィール")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "保存した診断結果"

    def __str__(self) -> str:
        return self.title or f"診断 {self.created_at:%Y-%m-%d}"
