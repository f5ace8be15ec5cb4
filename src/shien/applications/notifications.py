"""Who hears of an application's transitions: its organization's members and consented advisors get an
inbox message (and an email) for every move made on it; nothing is sent for a move that rolls back.
Report reminders (`report_due`, `report_overdue`) are keyed by application, report and due date, so a
reminder run twice, or by two cron jobs at once, sends each message once."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from shien.accounts.models import User
from shien.applications.models import Application, State
from shien.core.notifications import notify
from shien.rules.registry import registry
from shien.rules.text import wareki_date, wareki_datetime

MESSAGES = {
    "submit": "申請を受け付けました",
    "start_review": "審査を開始しました",
    "return": "申請が差し戻されました。内容を修正して再度申請してください",
    "adopt": "採択されました",
    "reject": "不採択となりました",
    "request_grant": "交付申請を受け付けました",
    "decide_grant": "交付が決定しました",
    "report_results": "実績報告を受け付けました",
    "confirm_amount": "補助金の額が確定しました",
    "record_payment": "補助金を支払いました",
    "withdraw": "申請を取り下げました",
}


def recipients(application: Application) -> list[User]:
    """The organization's active members and advisors with consent in force (a deactivated account
    no longer hears of the business)."""
    org = application.organization
    members = User.objects.filter(memberships__organization=org)
    advisors = User.objects.filter(advisor_consents__organization=org, advisor_consents__revoked_at=None)
    return list((members | advisors).filter(is_active=True).distinct().order_by("pk"))


def application_transitioned(
    application: Application, action: str, audit_id: int, reason: str = "", data: dict[str, Any] | None = None
) -> None:
    """Inbox + email for one transition; the audit row id keys it, so a retry never repeats it.
    A submission's message is its receipt: number, time and each attachment with its SHA-256."""
    title = f"{application}: {MESSAGES.get(action, action)}"
    lines = [f"状態: {State(application.state).label}"]
    if action == "submit":
        lines += receipt_lines(application, (data or {}).get("attachments", []))
    if reason:
        lines.append(f"理由・連絡事項: {reason}")
    url = reverse("application-detail", args=[application.pk])
    for user in recipients(application):
        notify(
            user=user,
            kind=f"application.{action}",
            title=title,
            body="\n".join(lines),
            url=url,
            key=f"audit:{audit_id}",
        )


def form4_issued(application: Application, audit_id: int) -> None:
    """The members hear that the 事業支援計画書 (様式4) was issued and the application can be submitted."""
    url = reverse("application-detail", args=[application.pk])
    members = User.objects.filter(memberships__organization=application.organization, is_active=True)
    for user in members.order_by("pk"):  # the advisor issued it: the business is told
        notify(
            user=user,
            kind="application.form4",
            title=f"{application}: 様式4（事業支援計画書）が交付されました",
            body="商工会・商工会議所から様式4が交付されました。申請の内容を確かめて、締切までに申請してください。",
            url=url,
            key=f"audit:{audit_id}",
        )


def receipt_lines(application: Application, attachments: list[dict[str, Any]]) -> list[str]:
    lines = [f"受付番号: {application.receipt_number}"]
    if application.submitted_at:
        lines.append(f"受付日時: {wareki_datetime(application.submitted_at, seconds=True)}")
    lines += [f"添付: {a['name']}（{a['size']:,}バイト、SHA-256 {a['sha256']}）" for a in attachments]
    return lines


def _report_url(application: Application, row: dict[str, Any]) -> str:
    if row["kind"] == "results":
        return reverse("application-detail", args=[application.pk])
    return reverse("followup", args=[application.pk])


def _slot(row: dict[str, Any]) -> str:
    return "results" if row["kind"] == "results" else f"y{row['year']}"


def _lines(application: Application, row: dict[str, Any]) -> list[str]:
    program = registry().programs[application.program]
    lines = [
        f"事業者: {application.organization.name}",
        f"補助金: {program.short_name}（受付番号 {application}）",
    ]
    if row.get("window_start"):
        lines.append(f"提出期間: {wareki_date(row['window_start'])} 〜 {wareki_date(row['due'])}")
    lines.append(f"提出期限: {wareki_date(row['due'])}")
    if row.get("unverified"):
        lines.append("※期限は公募要領で確認できていない前提に基づく目安です。事務局の案内もご確認ください。")
    return lines


def report_due(application: Application, row: dict[str, Any], days_left: int, threshold: int) -> int:
    """A reminder before a report's due date, once per threshold (e.g. 30/7/1 days) and due date."""
    when = "本日が提出期限です" if days_left == 0 else f"提出期限まであと{days_left}日です"
    title = f"{application}: {row['label']} の{when}"
    body = "\n".join([f"{row['label']}の{when}。", *_lines(application, row)])
    key = f"report-due:{application.pk}:{_slot(row)}:{row['due'].isoformat()}:{threshold}"
    sent = 0
    for user in recipients(application):
        sent += notify(user=user, kind="report.due", title=title, body=body,
                       url=_report_url(application, row), key=key) is not None  # fmt: skip
    return sent


def report_overdue(application: Application, row: dict[str, Any], staff: list[User]) -> int:
    """The day after the due date: the applicant's people and the secretariat hear it once."""
    title = f"{application}: {row['label']} の提出期限を過ぎています"
    body = "\n".join(
        [f"{row['label']}が提出されていません。速やかに提出してください。", *_lines(application, row)]
    )
    key = f"report-overdue:{application.pk}:{_slot(row)}"
    sent = 0
    people = {u.pk: u for u in recipients(application)}
    for user in people.values():
        sent += notify(user=user, kind="report.overdue", title=title, body=body,
                       url=_report_url(application, row), key=key) is not None  # fmt: skip
    office_url = reverse("followup", args=[application.pk])
    for user in staff:
        if user.pk in people:
            continue
        sent += notify(user=user, kind="report.overdue", title=f"【期限超過】{title}", body=body,
                       url=office_url, key=key) is not None  # fmt: skip
    return sent
