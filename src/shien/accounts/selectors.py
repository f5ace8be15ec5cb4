"""Reads of the accounts app. An organization is reached only through `organization_get`."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from shien.accounts.models import AdvisorConsent, Membership, Organization, Role, User
from shien.core.errors import DomainError

STAFF_ROLES = (Role.SECRETARIAT, Role.BUREAU)


def organizations_for(user: User) -> QuerySet[Organization]:
    """Organizations the user may see: its own, those that consented to it as advisor, and for the
    secretariat and the bureau those that have submitted an application (a business that never
    applied is none of the office's business, as a draft never submitted is not)."""
    if not user.is_authenticated:
        return Organization.objects.none()
    own = Q(pk__in=Membership.objects.filter(user=user).values("organization_id")) | Q(
        pk__in=AdvisorConsent.objects.filter(advisor=user, revoked_at__isnull=True).values("organization_id")
    )
    if user.has_any_role(STAFF_ROLES):
        # through the reverse relation: accounts sits below applications and imports nothing of it
        submitted = Organization.objects.filter(applications__submitted_at__isnull=False).values("pk")
        return Organization.objects.filter(own | Q(pk__in=submitted))
    return Organization.objects.filter(own)


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


def home(user: User) -> tuple[str, str]:
    """Where the user lands after logging in: (url, label). The secretariat and the bureau work in the
    office, a reviewer on the reviews assigned to them; business users, advisors (their consented
    businesses) and vendors on マイページ."""
    from django.urls import reverse

    roles = user.role_names() if user.is_authenticated else frozenset()
    if Role.SECRETARIAT in roles:
        return reverse("office-home"), "事務局の画面"
    if Role.BUREAU in roles:
        return reverse("office-home"), "経済産業局の画面（閲覧）"
    if Role.REVIEWER in roles:
        return reverse("office-reviews"), "審査の画面"
    return reverse("mypage"), "マイページ"


def request_user(request: object) -> User:
    """The logged-in user of a request (views behind login_required); anything else is refused."""
    from django.core.exceptions import PermissionDenied

    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user
