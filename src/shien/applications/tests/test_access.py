"""Who may see, act on and hear of an application: only its business's people, while they are."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from shien.accounts.models import Membership, Role, User
from shien.accounts.services import advisor_consent_grant, advisor_consent_revoke
from shien.applications import review, services, views, workflow
from shien.applications.models import Application, ChangeRequest, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.applications.tests.test_applicant_builders import at_state, people, upload
from shien.applications.tests.test_followup_programs import BASE, make_app, with_baseline
from shien.core.models import AuditLog, Notification
from shien.rules.errors import DomainError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def test_no_applicant_side_post_works_for_the_bureau_reviewers_vendors_or_strangers(client: Client) -> None:
    owner, office_user = people()
    draft = at_state(State.DRAFT, owner, office_user)
    submitted = at_state(State.SUBMITTED, owner, office_user)
    adopted = at_state(State.ADOPTED, owner, office_user)
    granted = at_state(State.GRANTED, owner, office_user)
    change = ChangeRequest.objects.create(application=granted, plan=MONOZUKURI_PLAN, reason="r",
                                          requested_by=owner, estimate_yen=1)  # fmt: skip
    paid = with_baseline(make_app("monozukuri", owner, org=draft.organization, number=9), owner)
    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    review.review_assign(actor=office_user, application=submitted, reviewer=reviewer)
    posts = {
        "/applications/new/": {"organization": draft.organization_id, "frame": "monozukuri/shoryokuka"},
        f"/applications/{draft.pk}/autosave/": {"version": "1", "purposes": "labor_saving"},
        f"/applications/{draft.pk}/attachments/": {"file": upload("a.pdf")},
        f"/applications/{draft.pk}/submit/": {},
        f"/applications/{submitted.pk}/submit/": {},  # already submitted: no pretend success either
        f"/applications/{draft.pk}/form4/": {"comment": "x"},
        f"/applications/{adopted.pk}/grant-request/": {},
        f"/applications/{granted.pk}/report/": {"rows": "1"},
        f"/applications/{submitted.pk}/withdraw/": {"step": "withdraw", "reason": "x"},
        f"/applications/{granted.pk}/changes/new/": {"reason": "x"},
        f"/applications/{granted.pk}/changes/{change.pk}/withdraw/": {},
        f"/applications/{granted.pk}/changes/{change.pk}/": {"decision": "approve"},
        f"/applications/{paid.pk}/followup/1/": {k: str(v) for k, v in BASE.items()}
        | {"fiscal_year_end": "2025-03-31"},
    }
    before = AuditLog.objects.count()
    states = dict(Application.objects.values_list("pk", "state"))
    for who in (user("bureau@example.jp", Role.BUREAU), reviewer, user("vendor@example.jp", Role.VENDOR),
                user("stranger@example.jp")):  # fmt: skip
        client.force_login(who)
        for url, data in posts.items():
            if "attachments" in url:
                data = {"file": upload("a.pdf")}
            response = client.post(url, data)
            assert response.status_code in (400, 403, 404, 409, 422), (who, url, response.status_code)
    assert AuditLog.objects.count() == before
    assert dict(Application.objects.values_list("pk", "state")) == states
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING


def test_an_advisor_whose_consent_is_revoked_loses_the_business_at_once(client: Client) -> None:
    owner, office_user = people()
    advisor = user("advisor@example.jp", Role.ADVISOR)
    org = organization(owner)
    consent = advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    Notification.objects.filter(kind="advisor_consent").delete()  # the advisor was told; not what is tested
    app = services.application_create(actor=advisor, organization=org, program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    client.force_login(advisor)
    assert client.get(f"/applications/{app.pk}/").status_code == 200  # a page open in the advisor's tab
    advisor_consent_revoke(actor=owner, consent=consent)
    assert client.get(f"/applications/{app.pk}/").status_code == 404
    saved = client.post(f"/applications/{app.pk}/autosave/", {"version": str(app.version)})
    assert saved.status_code == 404
    assert client.post(f"/applications/{app.pk}/submit/").status_code == 404
    with pytest.raises(DomainError):
        workflow.transition(actor=advisor, application=app, action_name="submit")
    assert app.pk not in views._acting(advisor).values_list("pk", flat=True)
    services.application_submit(actor=owner, application=app)
    assert not Notification.objects.filter(user=advisor).exists()  # the owner hears, not the advisor
    assert Notification.objects.filter(user=owner, kind="application.submit").exists()


def test_a_deactivated_member_no_longer_hears_of_the_business(
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner, office_user = people()
    app = at_state(State.SUBMITTED, owner, office_user)
    former = user("former@example.jp")
    Membership.objects.create(user=former, organization=app.organization)
    User.objects.filter(pk=former.pk).update(is_active=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(actor=office_user, application=app, action_name="start_review")
    assert Notification.objects.filter(kind="application.start_review", user=owner).count() == 1
    assert not Notification.objects.filter(user=former).exists()
    assert [m.to for m in mail.outbox] == [["owner@example.jp"]]
