"""Reads of the applications app. An application is reached only through `application_get`."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from shien.accounts.models import Role, User
from shien.applications.models import Application, ReviewAssignment
from shien.rules.errors import DomainError


def applications_for(user: User) -> QuerySet[Application]:
    """Applicants see their organizations' applications (advisors: with consent in force);
    reviewers those assigned to them and not declared in conflict; the secretariat and the bureau
    see all; everyone else sees none."""
    if not user.is_authenticated:
        return Application.objects.none()
    roles = user.role_names()
    if Role.SECRETARIAT in roles or Role.BUREAU in roles:
        return Application.objects.all()
    own = Q(organization__memberships__user=user) | Q(
        organization__advisor_consents__advisor=user, organization__advisor_consents__revoked_at__isnull=True
    )
    if Role.REVIEWER in roles:
        conflicted = ReviewAssignment.objects.filter(reviewer=user, conflict=True).values("application_id")
        assigned = Q(reviews__reviewer=user) & ~Q(pk__in=conflicted)
        return Application.objects.filter(own | assigned).distinct()
    return Application.objects.filter(own).distinct()


def application_get(user: User, application_id: int) -> Application:
    application = applications_for(user).select_related("organization").filter(pk=application_id).first()
    if application is None:
        raise DomainError("not_found", "申請が見つかりません")
    return application
