"""What the bureau publishes about programs. Program rules and figures live in rules/parameters."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class News(models.Model):
    slug = models.SlugField(max_length=100, unique=True)
    program = models.CharField(max_length=50, blank=True, help_text="制度の id（rules の program id）")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    published_at = models.DateTimeField(db_index=True)
    url = models.URLField(blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = "お知らせ"

    def __str__(self) -> str:
        return self.title


def round_document_path(instance: RoundDocument, filename: str) -> str:
    return f"round_documents/{instance.sha256}"


class RoundDocument(models.Model):
    """A document of one round (公募回) that the secretariat publishes: 公募要領, 様式, or another.

    Served on the program page and in the jGrants-compatible API (application_guidelines,
    application_form, outline_of_grant). The file's type is read from its bytes; its SHA-256 is
    recorded at upload and checked on every read.
    """

    class Kind(models.TextChoices):
        GUIDELINES = "guidelines", "公募要領"
        FORM = "form", "様式"
        OTHER = "other", "その他（概要・交付要綱など）"

    program = models.CharField(max_length=50, help_text="制度の id（rules の program id）")
    round_id = models.CharField(max_length=30, help_text="公募回の id（rules の round id）")
    kind = models.CharField("種類", max_length=20, choices=Kind.choices)
    title = models.CharField("表題", max_length=200)
    file = models.FileField(upload_to=round_document_path)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    generated = models.BooleanField(default=False, help_text="shien が公開パラメータから作成した要約")
    source_sha256 = models.CharField(max_length=64, blank=True, help_text="要約の元（HTML）の SHA-256")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "round_id", "kind", "uploaded_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "round_id", "sha256"], name="unique_round_document_content"
            )
        ]
        verbose_name = "公募回の資料"

    def __str__(self) -> str:
        return f"{self.program}/{self.round_id} {self.title}"
