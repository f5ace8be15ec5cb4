"""Who hears of an application's transitions: its organization's members and consented advisors get an
inbox message (and an email) for every move made on it; nothing is sent for a move that rolls back."""

from __future__ import annotations

from django.urls import reverse

from shien.accounts.models import User
from shien.applications.models import Application, State
from shien.core.notifications import notify

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
    org = application.organization
    members = User.objects.filter(memberships__organization=org)
    advisors = User.objects.filter(advisor_consents__organization=org, advisor_consents__revoked_at=None)
    return list((members | advisors).distinct().order_by("pk"))


def application_transitioned(application: Application, action: str, audit_id: int, reason: str = "") -> None:
    """Inbox + email for one transition; the audit row id keys it, so a retry never repeats it."""
    title = f"{application}: {MESSAGES.get(action, action)}"
    lines = [f"状態: {State(application.state).label}"]
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
            email=action != "submit",  # the receipt email already tells the submitter
        )
