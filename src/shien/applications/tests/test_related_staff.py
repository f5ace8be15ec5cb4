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


def test_a_related_secretariat_member_cannot_decide_a_plan_change(settings: Any, tmp_path: Any) -> None:
    from shien.applications import changes
    from shien.applications.tests.factories import granted

    owner, office = user("owner2@example.jp"), user("office2@example.jp", Role.SECRETARIAT)
    app = granted(owner, office, AT)
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": 30_000_000}]}
    change = changes.change_request(
        actor=owner, application=app, plan=plan, reason="機械の仕様を見直したため"
    )
    insider = user("insider2@example.jp", Role.SECRETARIAT)
    Membership.objects.create(user=insider, organization=app.organization)
    with pytest.raises(DomainError, match="関係する事業者"):
        changes.change_decide(actor=insider, change=change, approve=True)
    assert changes.change_decide(actor=office, change=change, approve=True).status == "approved"
