"""What bench_submit.py checks in the database and on disk after each phase (Django ORM, bench settings).

`invariants` holds at every instant, even right after the server was killed mid-run: a submitted
application has its receipt number, time, one audit row and one inbox message; a draft has none of
them; the round's receipt numbers are 1..k without a gap or a repeat and the counter says k; every
attachment row points at a file whose size and SHA-256 match the row and the file the client sent.
Files that no row references (an upload cut by the kill, before its transaction committed) are
counted, and must never be referenced.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

PROGRAM = "monozukuri"


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def invariants(round_id: str, expected_sha: dict[int, str]) -> tuple[list[str], dict[str, Any]]:
    """Problems (empty when sound) and counts for the applications of one benchmark round.

    `expected_sha`: application id → SHA-256 of the file its applicant uploaded (or tried to)."""
    from django.conf import settings

    from shien.applications.models import Application, Attachment, ReceiptCounter, State
    from shien.core.models import AuditLog, Notification

    problems: list[str] = []
    apps = list(Application.objects.filter(program=PROGRAM, round_id=round_id).order_by("pk"))
    ids = [str(a.pk) for a in apps]
    submit_audits = Counter(
        AuditLog.objects.filter(
            action="application.submit", object_type="applications.application", object_id__in=ids
        ).values_list("object_id", flat=True)
    )
    inbox = Counter(
        Notification.objects.filter(
            kind="application.submit", url__in=[f"/applications/{a.pk}/" for a in apps]
        ).values_list("url", flat=True)
    )
    rows = list(Attachment.objects.filter(application__in=apps).order_by("pk"))
    by_app = Counter(r.application_id for r in rows)
    add_audits = Counter(
        AuditLog.objects.filter(
            action="attachment.add",
            object_type="applications.attachment",
            object_id__in=[str(r.pk) for r in rows],
        ).values_list("object_id", flat=True)
    )
    numbers: list[int] = []
    prefix = f"{PROGRAM.upper()}-{round_id}-"
    for app in apps:
        where = f"申請 {app.pk}（{round_id}）"
        if app.state == State.SUBMITTED:
            if (
                not app.receipt_number
                or not app.receipt_number.startswith(prefix)
                or app.submitted_at is None
            ):
                problems.append(f"{where}: 申請済みなのに受付番号または申請日時がありません")
            else:
                numbers.append(int(app.receipt_number.removeprefix(prefix)))
            if submit_audits[str(app.pk)] != 1:
                problems.append(f"{where}: 申請の監査ログが {submit_audits[str(app.pk)]} 件")
            if inbox[f"/applications/{app.pk}/"] != 1:
                problems.append(f"{where}: 受付のお知らせが {inbox[f'/applications/{app.pk}/']} 件")
            if by_app[app.pk] != 1:
                problems.append(f"{where}: 添付が {by_app[app.pk]} 件（1件のはず）")
        elif app.state == State.DRAFT:
            if app.receipt_number or app.submitted_at or submit_audits[str(app.pk)]:
                problems.append(f"{where}: 作成中なのに受付番号・申請日時・申請の監査ログがあります")
        else:
            problems.append(f"{where}: 想定外の状態 {app.state}")
    numbers.sort()
    if numbers != list(range(1, len(numbers) + 1)):
        repeated = [n for n, c in Counter(numbers).items() if c > 1]
        missing = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))
        problems.append(
            f"{round_id}: 受付番号が連続していません（欠番 {missing[:10]}、重複 {repeated[:10]}）"
        )
    counter = ReceiptCounter.objects.filter(program=PROGRAM, round_id=round_id).first()
    if (counter.last if counter else 0) != len(numbers):
        problems.append(
            f"{round_id}: 受付番号の採番カウンタ {counter and counter.last} ≠ 受付件数 {len(numbers)}"
        )

    referenced: set[Path] = set()
    for row in rows:
        path = Path(row.file.path)
        referenced.add(path)
        where = f"添付 {row.pk}（申請 {row.application_id}）"
        if not path.exists():
            problems.append(f"{where}: ファイルがありません: {path}")
            continue
        if path.stat().st_size != row.size or _sha(path) != row.sha256:
            problems.append(f"{where}: ファイルの大きさまたは SHA-256 が記録と違います")
        if expected_sha.get(row.application_id) not in (None, row.sha256):
            problems.append(f"{where}: 送ったファイルと SHA-256 が違います")
        if add_audits[str(row.pk)] != 1:
            problems.append(f"{where}: 添付の監査ログが {add_audits[str(row.pk)]} 件")
    orphans_complete = orphans_partial = 0
    media = Path(settings.MEDIA_ROOT) / "attachments"
    for app in apps:
        folder = media / str(app.pk)
        for path in folder.iterdir() if folder.exists() else ():
            if path in referenced:
                continue
            if _sha(path) == expected_sha.get(app.pk):
                orphans_complete += 1
            else:
                orphans_partial += 1
    pending = list(
        Notification.objects.filter(
            kind="application.submit",
            url__in=[f"/applications/{a.pk}/" for a in apps],
            email_wanted=True,
            emailed_at=None,
        ).values_list("pk", flat=True)
    )
    stats = {
        "applications": len(apps),
        "submitted": len(numbers),
        "drafts": sum(a.state == State.DRAFT for a in apps),
        "attachments": len(rows),
        "unreferenced_files_complete": orphans_complete,
        "unreferenced_files_partial": orphans_partial,
        # receipt emails the task worker has not sent yet (a kill leaves them to deliver_mail)
        "receipt_emails_pending": len(pending),
        # of those, the ones with no task waiting in the queue (only cron's deliver_mail would send them)
        "receipt_emails_not_queued": len(set(pending) - queued_email_ids()),
    }
    return problems, stats


def queued_email_ids() -> set[int]:
    """Notifications whose email task is waiting in the database queue."""
    from django_tasks_db.models import DBTaskResult

    from shien.core.notifications import send_notification_email

    waiting = DBTaskResult.objects.filter(status="READY", task_path=send_notification_email.module_path)
    return {args["args"][0] for args in waiting.values_list("args_kwargs", flat=True)}


def drain_queue() -> None:
    """What a task worker does when it next runs: send what is queued (here, until the queue is empty)."""
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval", "0", verbosity=0)


def states(round_id: str) -> dict[int, tuple[str, str | None]]:
    from shien.applications.models import Application

    return {
        pk: (state, number)
        for pk, state, number in Application.objects.filter(program=PROGRAM, round_id=round_id).values_list(
            "pk", "state", "receipt_number"
        )
    }
