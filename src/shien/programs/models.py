"""What the bureau publishes about programs. Program rules and figures live in rules/parameters."""

from __future__ import annotations

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
