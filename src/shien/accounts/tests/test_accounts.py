"""Organizations, numbers, roles, advisor consent and login lockout."""

from __future__ import annotations

import pytest

from shien.accounts import validators
from shien.accounts.models import Role
from shien.accounts.selectors import organization_get, organizations_for
from shien.accounts.services import advisor_consent_grant, advisor_consent_revoke
from shien.applications.tests.factories import organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["5835678256246", "５８３５６７８２５６２４６", "5-8356-7825-6246"])
def test_valid_corporate_numbers(value: str) -> None:
    assert validators.corporate_number(value) == "5835678256246"


@pytest.mark.parametrize(
    ("value", "message"),
    [("1234567890123", "チェックディジット"), ("123", "13桁"), ("T5835678256246", "13桁")],
)
def test_invalid_corporate_numbers(value: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        validators.corporate_number(value)


def test_invoice_numbers() -> None:
    assert validators.invoice_number("t5835678256246") == "T5835678256246"
    with pytest.raises(DomainError, match="T と13桁"):
        validators.invoice_number("5835678256246")
    with pytest.raises(DomainError, match="チェックディジット"):
        validators.invoice_number("T1234567890123")


def test_organization_is_created_with_its_owner_and_audited() -> None:
    owner = user("owner@example.jp")
    org = organization(owner, corporate_number="5835678256246", invoice_number="T5835678256246")
    assert list(organizations_for(owner)) == [org]
    assert AuditLog.objects.filter(action="organization.create", object_id=str(org.pk)).exists()
    with pytest.raises(DomainError, match="すでに登録"):
        organization(user("other@example.jp"), corporate_number="5835678256246")


def test_each_role_sees_exactly_its_organizations() -> None:
    owner, stranger = user("a@example.jp"), user("b@example.jp")
    advisor = user("shokokai@example.jp", Role.ADVISOR)
    secretariat = user("jimukyoku@example.jp", Role.SECRETARIAT)
    reviewer = user("shinsa@example.jp", Role.REVIEWER)
    org = organization(owner)
    other = organization(stranger, name="別の会社")
    assert set(organizations_for(owner)) == {org}
    assert set(organizations_for(stranger)) == {other}
    assert set(organizations_for(advisor)) == set()
    assert set(organizations_for(reviewer)) == set()
    assert set(organizations_for(secretariat)) == set()  # staff: only businesses that have applied
    from shien.applications import services
    from shien.applications.tests.factories import MONOZUKURI_PLAN
    from shien.applications.tests.test_applicant_builders import AT

    app = services.application_create(actor=stranger, organization=other, program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    assert set(organizations_for(secretariat)) == set()  # a draft is the business's own
    services.application_submit(actor=stranger, application=app, at=AT)
    assert set(organizations_for(secretariat)) == {other}
    with pytest.raises(DomainError, match="見つかりません"):
        organization_get(stranger, org.pk)
    consent = advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    assert set(organizations_for(advisor)) == {org}
    advisor_consent_revoke(actor=owner, consent=consent)
    assert set(organizations_for(advisor)) == set()


def test_only_the_owner_grants_consent_and_only_to_advisors() -> None:
    owner, member = user("o@example.jp"), user("m@example.jp")
    org = organization(owner)
    with pytest.raises(DomainError, match="として登録されていません"):
        advisor_consent_grant(actor=owner, organization=org, advisor=member)
    with pytest.raises(DomainError, match="代表者"):
        advisor_consent_grant(actor=member, organization=org, advisor=user("x@example.jp", Role.ADVISOR))


def test_login_by_email_locks_after_five_failures_from_that_address_only() -> None:
    """The per-account lock now holds for the account from one address (django-axes); the owner's own
    address stays open (the throttling itself: test_login.py)."""
    from django.test import Client

    user("login@example.jp")
    here, there = Client(REMOTE_ADDR="198.51.100.1"), Client(REMOTE_ADDR="198.51.100.2")
    right = {"username": "LOGIN@example.jp", "password": "correct horse battery"}
    assert here.post("/accounts/login/", right).status_code == 302
    for _ in range(5):
        here.post("/accounts/login/", {"username": "login@example.jp", "password": "wrong"})
    assert Client(REMOTE_ADDR="198.51.100.1").post("/accounts/login/", right).status_code == 429  # locked
    assert there.post("/accounts/login/", right).status_code == 302
    assert (
        there.post("/accounts/login/", {"username": "nobody@example.jp", "password": "x"}).status_code == 200
    )
