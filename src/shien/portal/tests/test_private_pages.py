"""Pages with personal data are never stored by a browser or a shared cache (Cache-Control: no-store);
public pages keep their own caching."""

from __future__ import annotations

import pytest
from django.test import Client

from shien.applications.models import State
from shien.applications.tests.test_applicant_builders import at_state, people

pytestmark = pytest.mark.django_db


def private(response: object) -> bool:
    value = response["Cache-Control"]  # type: ignore[index]
    return "no-store" in value and "private" in value


def test_every_page_with_personal_data_is_no_store(client: Client) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    client.force_login(owner)
    for url in ("/mypage/", "/inbox/", f"/organizations/{app.organization_id}/", f"/applications/{app.pk}/",
                "/accounts/security/", "/organizations/new/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200 and private(response), url
    staff = Client()
    staff.force_login(office)
    for url in ("/office/", "/office/applications/", f"/office/applications/{app.pk}/",
                f"/organizations/{app.organization_id}/"):  # fmt: skip
        response = staff.get(url)
        assert response.status_code == 200 and private(response), url
    assert private(client.get("/programs/"))  # a signed-in user's page carries their name and inbox
    anonymous = Client()
    assert private(anonymous.get("/accounts/login/"))
    assert private(anonymous.get("/mypage/"))  # even the redirect to the login page


def test_public_pages_stay_cacheable_for_visitors() -> None:
    visitor = Client()
    for url in ("/", "/programs/", "/schedule/", "/programs/monozukuri/", "/calendar/deadlines.ics"):
        response = visitor.get(url)
        assert response.status_code == 200 and "no-store" not in response.get("Cache-Control", ""), url


def test_a_view_that_chose_a_private_policy_keeps_it() -> None:
    from shien.applications.views_followup import calendar_token

    owner, _ = people()
    feed = Client().get(f"/calendar/u/{calendar_token(owner)}.ics")  # for calendar apps: may keep an hour
    assert feed.status_code == 200 and feed["Cache-Control"] == "private, max-age=3600"
    assert "no-store" in Client().get("/calendar/u/x.ics")["Cache-Control"]  # anything else there: no-store
