"""Limits on the forms that make shien mail an address the requester types: sign-up, password reset,
member invitations. Without them one client could have shien mail any address as often as it liked.

Two limits over a sliding window of `MAIL_REQUEST_WINDOW` seconds (an hour), kept in the database
(`MailRequest`), so that every server worker process and every server sees the same counts:

- per address and kind, `MAIL_REQUEST_LIMIT_PER_ADDRESS` (3) mails. A request beyond it gets the same
  answer as one that sent mail (the page reveals nothing), and no mail. The owner is not cut off: the
  mails already sent hold working links (a sign-up link, a reset link valid until it is used);
- per client, `MAIL_REQUEST_LIMIT_PER_CLIENT` (10) requests of any kind (the IP address as
  `throttle.client_ip` sees it behind proxies; for invitations the inviting user). Beyond it the client
  gets a 429 page with Retry-After, which says nothing about any account.

A refused request is not recorded one by one: the first refusal of a client in a window writes one row
(`outcome=refused`) and logs one warning; later ones add to that row's `count`. The address is stored
only as a keyed hash (HMAC with SECRET_KEY), never as typed. Rows older than `MAIL_REQUEST_RETENTION`
seconds (a day) are deleted by each request here (one indexed DELETE), so no cron job is needed.

Concurrency: the check and the insert run in one transaction that first takes a lock, so two requests
at once never both pass a limit. SQLite: the transaction begins IMMEDIATE (settings; and the prune, a
write, comes first in any case), so writers are serialised across processes. PostgreSQL: transaction-
scoped advisory locks (`pg_advisory_xact_lock`) on the client and on the address, taken in a fixed
order (no deadlock), held until commit; an insert-then-count alone would not do there (under READ
COMMITTED two transactions do not see each other's uncommitted rows).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac

from shien.accounts.models import MailRequest
from shien.rules import clock

logger = logging.getLogger(__name__)
Kind = MailRequest.Kind
Outcome = MailRequest.Outcome


@dataclass(frozen=True)
class Decision:
    send: bool  # the mail may be sent (False: answer as if sent, send nothing)
    refused: bool = False  # the client is over its limit: answer 429
    retry_after: int = 0  # seconds until the client may try again (when refused)


def per_address() -> int:
    return int(settings.MAIL_REQUEST_LIMIT_PER_ADDRESS)


def per_client() -> int:
    return int(settings.MAIL_REQUEST_LIMIT_PER_CLIENT)


def window() -> timedelta:
    return timedelta(seconds=int(settings.MAIL_REQUEST_WINDOW))


def retention() -> timedelta:
    return max(window(), timedelta(seconds=int(settings.MAIL_REQUEST_RETENTION)))


def address_key(address: str) -> str:
    """The stored form of an address: a keyed hash (the same address, in any case, the same key)."""
    return salted_hmac(
        "shien.accounts.mail_throttle", address.strip().lower(), algorithm="sha256"
    ).hexdigest()


def _lock(*names: str) -> None:
    """Hold these named locks until the transaction ends (PostgreSQL; SQLite serialises writers)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted(_key(name) for name in names):  # one order for all: no deadlock
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _key(name: str) -> int:
    """A lock's name as PostgreSQL's 64-bit advisory lock key."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def _prune(moment: datetime) -> None:
    """Delete the rows older than the retention. On PostgreSQL one transaction at a time prunes (the
    others skip it rather than wait), so two prunes never wait on each other's rows."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_key("mail-prune")])
            if not cursor.fetchone()[0]:
                return
    MailRequest.objects.filter(created_at__lt=moment - retention()).delete()


def _counted(client: str, since: datetime) -> list[datetime]:
    """When each of the client's requests in the window was made (refusals not included), oldest first."""
    return list(
        MailRequest.objects.filter(client=client, created_at__gt=since)
        .exclude(outcome=Outcome.REFUSED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )


def _refuse(kind: str, client: str, made: list[datetime], moment: datetime) -> Decision:
    """Count a refusal (one row and one warning per client and window) and say when to come back."""
    since = moment - window()
    row = (
        MailRequest.objects.filter(client=client, outcome=Outcome.REFUSED, created_at__gt=since)
        .order_by("-created_at")
        .first()
    )
    if row is None:
        MailRequest.objects.create(kind=kind, client=client, outcome=Outcome.REFUSED, created_at=moment)
        logger.warning(
            "mail requests refused for client %s: %d in the last %d s (limit %d); further refusals "
            "in this window are counted, not logged",
            client,
            len(made),
            window().total_seconds(),
            per_client(),
        )
    else:
        MailRequest.objects.filter(pk=row.pk).update(count=F("count") + 1)
    free_at = made[0] + window() if made else moment
    wait = math.ceil((free_at - moment).total_seconds())
    return Decision(send=False, refused=True, retry_after=max(wait, 1))


def admit(*, kind: str, address: str, client: str | None) -> Decision:
    """Whether to send a mail of `kind` to `address` for `client`, counted at once. Call it once per
    request that would send the mail (after the form is valid), and send only when `send`. Inside a
    caller's transaction the lock and the row last until the caller commits."""
    client = (client or "")[:64]
    target = address_key(address)
    moment = clock.now()
    since = moment - window()
    with transaction.atomic():
        _prune(moment)  # a write: on SQLite the lock is taken here at the latest
        _lock(f"mail-client:{client}", f"mail-target:{kind}:{target}")
        made = _counted(client, since)
        if len(made) >= per_client():
            return _refuse(kind, client, made, moment)
        sent = MailRequest.objects.filter(
            kind=kind, target=target, outcome=Outcome.SENT, created_at__gt=since
        ).count()
        send = sent < per_address()
        MailRequest.objects.create(
            kind=kind,
            target=target,
            client=client,
            outcome=Outcome.SENT if send else Outcome.SUPPRESSED,
            created_at=moment,
        )
    return Decision(send=send)


def client_refusal(client: str | None, *, kind: str) -> Decision | None:
    """A refusal when the client is over its limit already (counted, committed), else None: for a
    caller whose own transaction would roll the refusal back (an invitation refused with an error)."""
    client = (client or "")[:64]
    moment = clock.now()
    with transaction.atomic():
        _lock(f"mail-client:{client}")
        made = _counted(client, moment - window())
        if len(made) >= per_client():
            return _refuse(kind, client, made, moment)
    return None


def minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def refused_response(request: HttpRequest, decision: Decision) -> HttpResponse:
    """The 429 page: too many requests from this client; when to try again. Nothing about accounts."""
    context = {"minutes": minutes(decision.retry_after), "limit": per_client(), "hours": window_hours()}
    response = render(request, "accounts/mail_throttled.html", context, status=429)
    response["Retry-After"] = str(decision.retry_after)
    response._has_been_logged = True  # type: ignore[attr-defined]  # not one django.request line each
    return response


def window_hours() -> str:
    """The window in words ("1時間", "30分")."""
    seconds = int(window().total_seconds())
    return f"{seconds // 3600}時間" if seconds % 3600 == 0 else f"{minutes(seconds)}分"


def sent_context() -> dict[str, object]:
    """For the "mail sent" pages: how many mails one address gets in the window."""
    return {"mail_per_address": per_address(), "mail_window": window_hours()}
