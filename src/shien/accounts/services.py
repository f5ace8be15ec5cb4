"""Writes of the accounts app: organizations, memberships, advisor consent (each audited)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from shien.accounts import validators
from shien.accounts.models import AdvisorConsent, Membership, Organization, Role, User
from shien.core.errors import DomainError
from shien.core.notifications import notify
from shien.core.services import audit_record, created_before
from shien.rules import clock
from shien.rules.text import too_long
from shien.rules.vocab import INDUSTRIES, PREFECTURES

NAME_MAX = 200  # Organization.name


def checked_facts(
    *,
    name: str,
    prefecture: str,
    industry: str,
    employees: int | None,
    capital_yen: int | None,
    corporate_number: str,
    invoice_number: str,
    other_than: Organization | None = None,
) -> dict[str, Any]:
    """An organization's facts, validated and normalized (法人番号 and インボイス登録番号 by check digit,
    the 法人番号 not held by another organization), for registering or correcting it."""
    if not name.strip():
        raise DomainError("invalid_input", "事業者名を入力してください")
    if len(name.strip()) > NAME_MAX:
        raise DomainError("too_long", too_long("事業者名", NAME_MAX, len(name.strip())))
    if prefecture not in PREFECTURES:
        raise DomainError("invalid_input", "所在地（都道府県）を選んでください")
    if industry not in INDUSTRIES:
        raise DomainError("invalid_input", "業種を選んでください")
    if employees is None or employees < 0 or (capital_yen is not None and capital_yen < 0):
        raise DomainError("invalid_input", "従業員数・資本金は0以上で入力してください")
    number = validators.corporate_number(corporate_number or "")
    holders = Organization.objects.filter(corporate_number=number)
    if other_than is not None:
        holders = holders.exclude(pk=other_than.pk)
    if number and holders.exists():
        raise DomainError("duplicate", "この法人番号の事業者はすでに登録されています")
    return {
        "name": name.strip(),
        "prefecture": prefecture,
        "industry": industry,
        "employees": employees,
        "capital_yen": capital_yen,
        "corporate_number": number,
        "invoice_number": validators.invoice_number(invoice_number or ""),
    }


def membership_of(user: User, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()


def is_owner(user: User, organization: Organization) -> bool:
    membership = membership_of(user, organization)
    return membership is not None and membership.kind == Membership.Kind.OWNER


@transaction.atomic
def organization_create(
    *,
    actor: User,
    name: str,
    prefecture: str,
    industry: str,
    employees: int,
    capital_yen: int | None = None,
    corporate_number: str = "",
    invoice_number: str = "",
    idempotency_key: str = "",
) -> Organization:
    """A new 事業者 with `actor` as its representative. With `idempotency_key` (one per rendered form)
    a repeated request (a double click, a retry) returns the organization the first one created."""
    key = idempotency_key.strip()[:100]
    if key:
        earlier = created_before(actor=actor, action="organization.create", key=key)
        repeat = Organization.objects.filter(pk__in=earlier).first()
        if repeat is not None:
            return repeat
    facts = checked_facts(
        name=name,
        prefecture=prefecture,
        industry=industry,
        employees=employees,
        capital_yen=capital_yen,
        corporate_number=corporate_number,
        invoice_number=invoice_number,
    )
    org = Organization.objects.create(**facts)
    Membership.objects.create(user=actor, organization=org, kind=Membership.Kind.OWNER)
    audit_record(
        actor=actor, action="organization.create", obj=org, data={"idempotency_key": key} if key else None
    )
    return org


@transaction.atomic
def advisor_consent_grant(*, actor: User, organization: Organization, advisor: User) -> AdvisorConsent:
    """The 代表者 consents to an advisor acting for the business; the advisor is told (inbox, email)."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()  # then check: no race
    if not is_owner(actor, organization):
        raise DomainError("forbidden", "支援者への同意は事業者の代表者が行います")
    if not advisor.has_role(Role.ADVISOR):
        raise DomainError(
            "invalid_input", "この利用者は支援者（商工会・商工会議所・認定支援機関）として登録されていません"
        )
    consent, created = AdvisorConsent.objects.get_or_create(
        organization=organization, advisor=advisor, revoked_at=None, defaults={"granted_by": actor}
    )
    if created:  # granting again (a double click) changes nothing and records nothing
        audit_record(actor=actor, action="advisor_consent.grant", obj=consent, data={"advisor": advisor.pk})
        notify(
            user=advisor,
            kind="advisor_consent",
            title=f"{organization.name} から代理の同意を受けました",
            body=f"{organization.name}（{organization.prefecture}）の代表者が、申請・報告の代理に同意しました。"
            "心当たりがない場合は、事業者のページで同意を終了できます。",
            url=f"/organizations/{organization.pk}/",
            key=f"consent:{consent.pk}",
        )
    return consent


@transaction.atomic
def advisor_consent_revoke(*, actor: User, consent: AdvisorConsent) -> None:
    """The 代表者 revokes a consent, or the advisor ends its own (declining to act)."""
    Organization.objects.select_for_update().filter(pk=consent.organization_id).first()
    own = consent.advisor_id == actor.pk
    if not own and not is_owner(actor, consent.organization):
        raise DomainError("forbidden", "同意の取消しは事業者の代表者が行います")
    if not AdvisorConsent.objects.filter(pk=consent.pk, revoked_at=None).update(revoked_at=clock.now()):
        return  # revoked already
    consent.refresh_from_db(fields=["revoked_at"])
    audit_record(actor=actor, action="advisor_consent.revoke", obj=consent, data={"by_advisor": own})
