"""Reads of the accounts app. An organization is reached only through `organization_get`."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from shien.accounts.models import Organization, Role, User
from shien.rules.errors import DomainError

STAFF_ROLES = (Role.SECRETARIAT, Role.BUREAU)


def organizations_for(user: User) -> QuerySet[Organization]:
    """Organizations the user may act for: its own, and those that consented to it as advisor."""
    if not user.is_authenticated:
        return Organization.objects.none()
    if user.has_any_role(STAFF_ROLES):
        return Organization.objects.all()
    return Organization.objects.filter(
        Q(memberships__user=user)
        | Q(advisor_consents__advisor=user, advisor_consents__revoked_at__isnull=True)
    ).distinct()


def acting_organizations(user: User) -> QuerySet[Organization]:
    """Organizations the user acts for (member, or advisor with consent in force): staff read all
    through `organizations_for`, but apply for none."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(
        Q(memberships__user=user)
        | Q(advisor_consents__advisor=user, advisor_consents__revoked_at__isnull=True)
    ).distinct()


def can_act_for(user: User, organization: Organization) -> bool:
    """Members, and advisors with consent in force, act for the organization (staff only read)."""
    return (
        organization.memberships.filter(user=user).exists()
        or organization.advisor_consents.filter(advisor=user, revoked_at__isnull=True).exists()
    )


def organization_get(user: User, organization_id: int) -> Organization:
    organization = organizations_for(user).filter(pk=organization_id).first()
    if organization is None:
        raise DomainError(
            "not_found", "事業者が見つかりません"
        )  # the same answer whether absent or forbidden
    return organization


def request_user(request: object) -> User:
    """The logged-in user of a request (views behind login_required); anything else is refused."""
    from django.core.exceptions import PermissionDenied

    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user
