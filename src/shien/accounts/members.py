"""An organization's own page: its facts, its members (代表者・担当者) and the advisors it consented to.

Who may do what:
- members (代表者 and 担当者) correct the facts; the rules engine reads them for drafts, while a
  submitted application keeps the facts it was submitted with (`Application.facts`);
- the 代表者 adds and removes members and grants or revokes an advisor's consent; the last 代表者
  cannot be removed (the business would have nobody to consent for it); a 担当者 may leave;
- advisors with consent and staff read the page; they change nothing here.
Every change is audited with what it changed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F

from shien.accounts import validators
from shien.accounts.models import AdvisorConsent, Membership, Organization, User
from shien.core.services import audit_record
from shien.rules.errors import DomainError
from shien.rules.vocab import INDUSTRIES, PREFECTURES

FACTS = ("name", "prefecture", "industry", "employees", "capital_yen", "corporate_number", "invoice_number")


def membership_of(user: User, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()


def is_owner(user: User, organization: Organization) -> bool:
    membership = membership_of(user, organization)
    return membership is not None and membership.kind == Membership.Kind.OWNER


def _require_owner(user: User, organization: Organization, what: str) -> None:
    if not is_owner(user, organization):
        raise DomainError("forbidden", f"{what}は事業者の代表者が行います")


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, **facts: Any) -> Organization:
    """Correct the facts (members only). Records each changed field with its old and new value."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if membership_of(actor, org) is None:
        raise DomainError("forbidden", "事業者の情報を変更できるのは、その事業者の代表者・担当者です")
    name = str(facts.get("name", org.name)).strip()
    if not name:
        raise DomainError("invalid_input", "事業者名を入力してください")
    if facts.get("prefecture", org.prefecture) not in PREFECTURES:
        raise DomainError("invalid_input", "所在地（都道府県）を選んでください")
    if facts.get("industry", org.industry) not in INDUSTRIES:
        raise DomainError("invalid_input", "業種を選んでください")
    employees = facts.get("employees", org.employees)
    capital = facts.get("capital_yen", org.capital_yen)
    if employees is None or employees < 0 or (capital is not None and capital < 0):
        raise DomainError("invalid_input", "従業員数・資本金は0以上で入力してください")
    number = validators.corporate_number(str(facts.get("corporate_number", org.corporate_number) or ""))
    if number and Organization.objects.filter(corporate_number=number).exclude(pk=org.pk).exists():
        raise DomainError("duplicate", "この法人番号の事業者はすでに登録されています")
    new = {
        "name": name,
        "prefecture": facts.get("prefecture", org.prefecture),
        "industry": facts.get("industry", org.industry),
        "employees": employees,
        "capital_yen": capital,
        "corporate_number": number,
        "invoice_number": validators.invoice_number(
            str(facts.get("invoice_number", org.invoice_number) or "")
        ),
    }
    changed = {k: [getattr(org, k), v] for k, v in new.items() if getattr(org, k) != v}
    if not changed:  # a repeated save: nothing changes, nothing is recorded
        return org
    for field, (_, value) in changed.items():
        setattr(org, field, value)
    org.save(update_fields=list(changed))
    audit_record(actor=actor, action="organization.update", obj=org, data={"changed": changed})
    return org


@transaction.atomic
def member_add(*, actor: User, organization: Organization, email: str, kind: str) -> tuple[Membership, bool]:
    """Add a registered user as 担当者 or 代表者 (the 代表者 only). Adding someone twice keeps one
    membership (False: already a member)."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    _require_owner(actor, org, "担当者の追加")
    if kind not in Membership.Kind.values:
        raise DomainError("invalid_input", "役割（代表者・担当者）を選んでください")
    address = email.strip().lower()
    if not address:
        raise DomainError("invalid_input", "追加する人のメールアドレスを入力してください")
    user = User.objects.filter(email=address, is_active=True).first()
    if user is None:
        raise DomainError(
            "not_found",
            "このメールアドレスで利用登録している人が見つかりません。先に shien へ利用登録してもらってください",
        )
    membership, created = Membership.objects.get_or_create(
        user=user, organization=org, defaults={"kind": kind}
    )
    if created:
        audit_record(
            actor=actor, action="membership.add", obj=membership, data={"user": user.pk, "kind": kind}
        )
    return membership, created


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
