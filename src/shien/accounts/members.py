"""An organization's own page: its facts, its members (代表者・担当者) and the advisors it consented to.

Who may do what:
- members (代表者 and 担当者) correct the facts; the rules engine reads them for drafts, while a
  submitted application keeps the facts it was submitted with (`Application.facts`);
- the 代表者 invites members by email (they become members only when the person with that address
  accepts), removes members and grants or revokes an advisor's consent; the last 代表者 cannot be
  removed (the business would have nobody to consent for it); a 担当者 may leave; an advisor may end
  its own consent;
- advisors with consent and staff read the page; they change nothing here.
Every change is audited with what it changed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, QuerySet

from shien.accounts import mail_throttle
from shien.accounts.models import AdvisorConsent, Invitation, Membership, Organization, User
from shien.accounts.services import checked_facts, is_owner, membership_of
from shien.core.errors import DomainError
from shien.core.notifications import email_address, notify
from shien.core.services import audit_record
from shien.rules import clock

FACTS = ("name", "prefecture", "industry", "employees", "capital_yen", "corporate_number", "invoice_number")


def _require_owner(user: User, organization: Organization, what: str) -> None:
    if not is_owner(user, organization):
        raise DomainError("forbidden", f"{what}は事業者の代表者が行います")


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, **facts: Any) -> Organization:
    """Correct the facts (members only). Records each changed field with its old and new value."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if membership_of(actor, org) is None:
        raise DomainError("forbidden", "事業者の情報を変更できるのは、その事業者の代表者・担当者です")
    current = {field: getattr(org, field) for field in FACTS}
    new = checked_facts(**(current | {k: v for k, v in facts.items() if k in FACTS}), other_than=org)
    changed = {k: [getattr(org, k), v] for k, v in new.items() if getattr(org, k) != v}
    if not changed:  # a repeated save: nothing changes, nothing is recorded
        return org
    for field, (_, value) in changed.items():
        setattr(org, field, value)
    org.save(update_fields=list(changed))
    audit_record(actor=actor, action="organization.update", obj=org, data={"changed": changed})
    return org


def _valid_email(email: str) -> str:
    address = email.strip().lower()
    if not address:
        raise DomainError("invalid_input", "招待する人のメールアドレスを入力してください")
    try:
        validate_email(address)
    except ValidationError:
        raise DomainError("invalid_input", "メールアドレスの形式が正しくありません") from None
    return address


def member_invite(
    *, actor: User, organization: Organization, email: str, kind: str
) -> tuple[Invitation, bool]:
    """The 代表者 invites an email address as 担当者 or 代表者. Nobody becomes a member unasked: the
    person with that address accepts on マイページ (after signing up, if they have no account yet).
    The answer is the same whether the address has an account or not. Inviting again while the first
    invitation is pending keeps one invitation (False).

    The mails are limited like the other mails to typed addresses (`mail_throttle`): per address
    (beyond it the invitation is made and waits on マイページ, but no mail is sent) and per inviting
    user (beyond it the invitation is refused, `rate_limited`). The mail to an address without an
    account does not carry the organization's name (text the inviter chose, to a stranger)."""
    client = f"user:{actor.pk}"
    refusal = mail_throttle.client_refusal(client, kind=mail_throttle.Kind.INVITATION)
    if refusal is not None:
        raise _rate_limited(refusal)
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        _require_owner(actor, org, "メンバーの招待")
        if kind not in Membership.Kind.values:
            raise DomainError("invalid_input", "役割（代表者・担当者）を選んでください")
        address = _valid_email(email)
        if Membership.objects.filter(organization=org, user__email=address).exists():
            raise DomainError("duplicate", f"{address} はすでにこの事業者のメンバーです")
        invitation, created = Invitation.objects.get_or_create(
            organization=org, email=address, status=Invitation.Status.PENDING,
            defaults={"kind": kind, "invited_by": actor},
        )  # fmt: skip
        if not created:
            return invitation, False
        decision = mail_throttle.admit(kind=mail_throttle.Kind.INVITATION, address=address, client=client)
        if decision.refused:  # only when another request of the same user passed the check first
            raise _rate_limited(decision)
        audit_record(
            actor=actor, action="invitation.create", obj=invitation, data={"email": address, "kind": kind}
        )
        title = f"{org.name} からメンバーへの招待が届いています"
        body = (
            f"{org.name}（{org.prefecture}）の代表者から、shien で{invitation.get_kind_display()}として"
            "申請・報告を行うメンバーへの招待が届いています。マイページで承諾または辞退してください。"
        )
        invitee = User.objects.filter(email=address, is_active=True).first()
        if invitee is not None:  # the inbox always; the mail within the address's limit
            notify(
                user=invitee,
                kind="invitation",
                title=title,
                body=body,
                url="/mypage/",
                key=f"invitation:{invitation.pk}",
                email=decision.send,
            )
        elif decision.send:  # no account yet: one email; the invitation waits on マイページ after sign-up
            link = f"{settings.SITE_URL.rstrip('/')}/accounts/signup/"
            message = (
                f"shien を使っている事業者の代表者から、{invitation.get_kind_display()}として申請・報告を行う"
                "メンバーへの招待が届いています。\n\nこのメールアドレスで利用登録すると、マイページに招待"
                f"（事業者の名前と所在地）が表示され、承諾または辞退できます。\n{link}\n\n"
                "心当たりがない場合は、このメールを無視してください（登録しなければ何も起きません）。"
            )
            email_address(to=address, subject="【shien】メンバーへの招待が届いています", body=message)
    return invitation, True


def _rate_limited(decision: mail_throttle.Decision) -> DomainError:
    return DomainError(
        "rate_limited",
        f"招待の送信は{mail_throttle.window_hours()}に{mail_throttle.per_client()}件までです。"
        f"{mail_throttle.minutes(decision.retry_after)}分ほどおいてから、もう一度お試しください",
    )


def invitations_for(user: User) -> QuerySet[Invitation]:
    """The pending invitations to the user's own email address (nobody else's)."""
    if not user.is_authenticated:
        return Invitation.objects.none()
    return Invitation.objects.filter(
        email=user.email.lower(), status=Invitation.Status.PENDING
    ).select_related("organization")


@transaction.atomic
def invitation_answer(*, actor: User, invitation: Invitation, accept: bool) -> Membership | None:
    """The invited person accepts (a membership) or declines. Answering twice changes nothing."""
    current = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if current is None or current.email != actor.email.lower():
        raise DomainError("not_found", "招待が見つかりません")
    if current.status != Invitation.Status.PENDING:
        if current.status == Invitation.Status.ACCEPTED:
            return Membership.objects.filter(user=actor, organization_id=current.organization_id).first()
        raise DomainError("invalid_state", f"この招待は「{current.get_status_display()}」です")
    current.status = Invitation.Status.ACCEPTED if accept else Invitation.Status.DECLINED
    current.answered_at = clock.now()
    current.save(update_fields=["status", "answered_at"])
    audit_record(actor=actor, action=f"invitation.{current.status}", obj=current)
    if not accept:
        return None
    membership, created = Membership.objects.get_or_create(
        user=actor, organization_id=current.organization_id, defaults={"kind": current.kind}
    )
    if created:
        audit_record(
            actor=actor,
            action="membership.add",
            obj=membership,
            data={"user": actor.pk, "kind": membership.kind, "invitation": current.pk},
        )
    return membership


@transaction.atomic
def invitation_cancel(*, actor: User, invitation: Invitation) -> None:
    org = Organization.objects.select_for_update().get(pk=invitation.organization_id)
    _require_owner(actor, org, "招待の取消し")
    if Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.PENDING).update(
        status=Invitation.Status.CANCELLED, answered_at=clock.now()
    ):
        audit_record(actor=actor, action="invitation.cancelled", obj=invitation)


@transaction.atomic
def member_remove(*, actor: User, membership: Membership) -> None:
    """The 代表者 removes a member; a 担当者 may remove only themself. The last 代表者 stays."""
    org = Organization.objects.select_for_update().get(pk=membership.organization_id)
    if membership.user_id != actor.pk:
        _require_owner(actor, org, "担当者の削除")
    current = Membership.objects.filter(pk=membership.pk).first()
    if current is None:  # removed already (a double click)
        return
    owners = Membership.objects.filter(organization=org, kind=Membership.Kind.OWNER)
    if current.kind == Membership.Kind.OWNER and owners.count() == 1:
        raise DomainError(
            "last_owner", "代表者が1人だけのため削除できません。先に別の人を代表者として追加してください"
        )
    audit_record(
        actor=actor,
        action="membership.remove",
        obj=current,
        data={"user": current.user_id, "kind": current.kind, "organization": org.pk},
    )
    current.delete()


def consents_of(organization: Organization) -> list[AdvisorConsent]:
    """The organization's advisor consents, those in force first, then the revoked ones."""
    return list(
        AdvisorConsent.objects.filter(organization=organization)
        .select_related("advisor", "granted_by")
        .order_by(F("revoked_at").desc(nulls_first=True), "-granted_at")
    )


@transaction.atomic
def member_set_kind(*, actor: User, membership: Membership, kind: str) -> Membership:
    """The 代表者 makes a member 代表者 or 担当者; the last 代表者 stays 代表者."""
    org = Organization.objects.select_for_update().get(pk=membership.organization_id)
    _require_owner(actor, org, "役割の変更")
    if kind not in Membership.Kind.values:
        raise DomainError("invalid_input", "役割（代表者・担当者）を選んでください")
    current = Membership.objects.filter(pk=membership.pk).first()
    if current is None:
        raise DomainError("not_found", "このメンバーはすでに削除されています")
    if current.kind == kind:
        return current
    if current.kind == Membership.Kind.OWNER and sole_owner(current):
        raise DomainError(
            "last_owner", "代表者が1人だけのため担当者にできません。先に別の人を代表者にしてください"
        )
    before, current.kind = current.kind, kind
    current.save(update_fields=["kind"])
    audit_record(actor=actor, action="membership.kind", obj=current, data={"from": before, "to": kind})
    return current


def sole_owner(membership: Membership) -> bool:
    """This membership is the organization's only 代表者."""
    owners = Membership.objects.filter(organization_id=membership.organization_id, kind=Membership.Kind.OWNER)
    return membership.kind == Membership.Kind.OWNER and not owners.exclude(pk=membership.pk).exists()
