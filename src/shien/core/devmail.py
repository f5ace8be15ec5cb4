"""The development mailbox: in the demo (`shien serve --demo`) and with DEBUG, mail is not sent but kept.

`MailboxBackend` (the default EMAIL_BACKEND there, see settings) writes each message as one `.eml`
file under `var/mail/` (any process may send: a server worker, the task worker, a cron command) and
prints one line per message (「メール: 宛先 件名」) instead of the raw MIME. `/dev/mail/` lists the
messages with their subjects, recipients and bodies decoded, and links clickable (a password reset, an
invitation). The page exists only while this backend is in use with DEBUG or the demo; otherwise 404.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import itertools
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage as ParsedMessage
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from shien.rules.registry import JST

BACKEND = "shien.core.devmail.MailboxBackend"
NAME = re.compile(r"^[0-9]+-[0-9]+-[0-9]+\.eml$")
LIST_LIMIT = 200
_counter = itertools.count(1)


def mailbox_dir() -> Path:
    return Path(getattr(settings, "SHIEN_DEV_MAILBOX_DIR", Path(settings.VAR_DIR) / "mail"))


def mailbox_enabled() -> bool:
    return settings.EMAIL_BACKEND == BACKEND and bool(
        settings.DEBUG or getattr(settings, "SHIEN_DEMO", False)
    )


class MailboxBackend(BaseEmailBackend):
    """Keeps each message as a file (written whole, then renamed: a reader never sees half of one)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = mailbox_dir()
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            name = f"{time.time_ns()}-{os.getpid()}-{next(_counter)}.eml"
            partial = folder / f".{name}.part"
            partial.write_bytes(message.message().as_bytes())
            os.replace(partial, folder / name)
            print(f"メール: {', '.join(message.to)} {message.subject}", file=sys.stdout, flush=True)
            sent += 1
        return sent


@dataclass(frozen=True)
class Mail:
    name: str
    sent_at: datetime | None
    sender: str
    to: str
    subject: str
    body: str


def _read(path: Path) -> Mail:
    parsed = email.message_from_bytes(path.read_bytes(), _class=ParsedMessage, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    sent_at = None
    if parsed["Date"]:
        sent_at = email.utils.parsedate_to_datetime(str(parsed["Date"]))
        if sent_at.tzinfo is None:  # "-0000": UTC (Django writes the Date header in UTC)
            sent_at = sent_at.replace(tzinfo=UTC)
        sent_at = sent_at.astimezone(JST)
    return Mail(
        name=path.name,
        sent_at=sent_at,
        sender=str(parsed["From"] or ""),
        to=str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or "").strip(),
        body=part.get_content() if part is not None else "",
    )


def messages(limit: int = LIST_LIMIT) -> list[Mail]:
    """The newest messages first."""
    folder = mailbox_dir()
    if not folder.is_dir():
        return []
    names = sorted((n for n in os.listdir(folder) if NAME.match(n)), key=lambda n: int(n.split("-")[0]))
    return [_read(folder / n) for n in reversed(names[-limit:])]


def _enabled_or_404() -> None:
    if not mailbox_enabled():
        raise Http404("ページが見つかりません")


@require_GET
def mailbox(request: HttpRequest) -> HttpResponse:
    _enabled_or_404()
    mails = messages()
    return render(request, "core/dev_mailbox.html", {"mails": mails, "limit": LIST_LIMIT, "mail": None})


@require_GET
def mailbox_message(request: HttpRequest, name: str) -> HttpResponse:
    _enabled_or_404()
    path = mailbox_dir() / name
    if not NAME.match(name) or not path.is_file():
        raise Http404("メールが見つかりません")
    context: dict[str, Any] = {"mails": None, "mail": _read(path)}
    return render(request, "core/dev_mailbox.html", context)
