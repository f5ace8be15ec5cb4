"""持続化補助金: 様式4 issued by a consented 商工会・商工会議所 advisor before submission, by its deadline."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import Clock

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import services
from shien.applications.tests.factories import organization, user
from shien.core.models import Notification
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
PLAN = {"purposes": ["sales_channel"], "expenses": [{"category": "advertising", "amount_yen": 900_000}]}
FORM4_DEADLINE = datetime(2024, 3, 7, 17, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def open_round(clock: Clock) -> None:
    clock.set(datetime(2024, 3, 1, 10, 0, tzinfo=JST))


def test_submission_needs_form4_from_a_consented_advisor_by_its_deadline() -> None:
    owner, advisor = user("o@example.jp"), user("shokokai@example.jp", Role.ADVISOR)
    org = organization(owner, industry="小売業", employees=3)
    app = services.application_create(
        actor=owner, organization=org, program="jizokuka", frame="tsujo", plan=PLAN
    )
    with pytest.raises(DomainError, match="様式4"):
        services.application_submit(actor=owner, application=app, at=FORM4_DEADLINE)
    with pytest.raises(DomainError, match="同意を受けた"):
        services.form4_issue(actor=advisor, application=app, at=FORM4_DEADLINE)
    advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    with pytest.raises(DomainError, match="受付締切"):
        services.form4_issue(actor=advisor, application=app, at=FORM4_DEADLINE.replace(second=1))
    services.form4_issue(actor=advisor, application=app, at=FORM4_DEADLINE, comment="販路開拓計画を確認")
    services.form4_issue(actor=advisor, application=app, at=FORM4_DEADLINE)  # a double click: one notice
    told = Notification.objects.filter(kind="application.form4")
    assert [n.user.email for n in told] == ["o@example.jp"]  # the business, not the advisor who issued it
    assert "様式4（事業支援計画書）が交付されました" in told.get().title and told.get().email_wanted
    submitted = services.application_submit(
        actor=owner, application=app, at=datetime(2024, 3, 14, 17, 0, tzinfo=JST)
    )
    assert submitted.receipt_number == "JIZOKUKA-15-000001"
