"""Reads of the applications app. An application is reached only through `application_get`."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from shien.accounts.models import AdvisorConsent, Membership, Role, User
from shien.applications.models import Application, ReviewAssignment
from shien.core.errors import DomainError


def applications_for(user: User) -> QuerySet[Application]:
    """Applicants see their organizations' applications (advisors: with consent in force);
    reviewers those assigned to them and not declared in conflict; the secretariat and the bureau
    see every submitted one (not drafts never submitted); everyone else sees none."""
    if not user.is_authenticated:
        return Application.objects.none()
    roles = user.role_names()
    if Role.SECRETARIAT in roles or Role.BUREAU in roles:  # what was submitted: a draft is the business's own
        return Application.objects.filter(submitted_at__isnull=False) | _own_and_assigned(user, roles)
    return _own_and_assigned(user, roles)


def _own_and_assigned(user: User, roles: frozenset[str]) -> QuerySet[Application]:
    # subqueries, not joins: no row repeats, so no DISTINCT over the whole application row
    own = Q(organization_id__in=Membership.objects.filter(user=user).values("organization_id")) | Q(
        organization_id__in=AdvisorConsent.objects.filter(advisor=user, revoked_at__isnull=True).values(
            "organization_id"
        )
    )
    if Role.REVIEWER in roles:  # assigned, and not declared in conflict (one assignment per reviewer)
        assigned = (
            ReviewAssignment.objects.filter(reviewer=user).exclude(conflict=True).values("application_id")
        )
        return Application.objects.filter(own | Q(pk__in=assigned))
    return Application.objects.filter(own)


def application_get(user: User, application_id: int) -> Application:
    application = applications_for(user).select_related("organization").filter(pk=application_id).first()
    if application is None:
        raise DomainError("not_found", "申請が見つかりません")
    return application
