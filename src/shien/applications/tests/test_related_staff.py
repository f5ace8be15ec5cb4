"""Nobody decides on their own business: a secretariat member who is also a member (or consented
advisor) of the applicant cannot move its application; another secretariat member can."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from shien.accounts.models import AdvisorConsent, Membership, Role
from shien.applications import services, workflow
from shien.applications.models import State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 20, 10, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.parametrize("relation", ["member", "advisor"])
def test_a_related_secretariat_member_cannot_decide(relation: str) -> None:
    owner = user("owner@example.jp")
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    app = services.application_submit(actor=owner, application=app, at=AT)
    insider = user("insider@example.jp", Role.SECRETARIAT, Role.ADVISOR)
    if relation == "member":
        Membership.objects.create(user=insider, organization=app.organization)
    else:
        AdvisorConsent.objects.create(organization=app.organization, advisor=insider, granted_by=owner)
    action = workflow.ACTIONS["start_review"]
    assert not workflow.may(insider, action, app)  # no button offered
    with pytest.raises(DomainError, match="関係する事業者"):
        workflow.transition(actor=insider, application=app, action_name="start_review")
    other = user("other@example.jp", Role.SECRETARIAT)
    assert (
        workflow.transition(actor=other, application=app, action_name="start_review").state
        == State.UNDER_REVIEW
    )
