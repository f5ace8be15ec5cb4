"""Stored attachments read back only as uploaded: the SHA-256 recorded at upload is checked first."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.http import Http404

from shien.applications.models import Attachment

logger = logging.getLogger(__name__)


def open_verified(attachment: Attachment) -> Any | None:
    """The stored file, opened for reading, if its SHA-256 is still the one recorded at upload; None (and
    an error in the log) if it is not. Http404 if the file is gone."""
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except OSError:
        raise Http404("ファイルが見つかりません") from None
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(64 * 1024), b""):
        digest.update(chunk)
    if digest.hexdigest() != attachment.sha256:
        handle.close()
        logger.error("attachment %s: SHA-256 mismatch (tampered or damaged)", attachment.pk)
        return None
    handle.seek(0)
    return handle
