"""マイページ offers to apply only for the user's own organizations and only in frames open now."""

from __future__ import annotations

import pytest
from django.test import Client

from shien.accounts.models import Role
from shien.applications.tests.factories import organization, user
from shien.rules import clock
from shien.rules.frames.base import rounds_at
from shien.rules.registry import registry

pytestmark = pytest.mark.django_db


def test_mypage_lists_own_organizations_and_open_frames_only(client: Client) -> None:
    owner = user("owner@example.jp")
    organization(owner, name="自社株式会社")
    organization(user("other@example.jp"), name="他社株式会社")
    client.force_login(owner)
    page = client.get("/mypage/").content.decode()
    assert "自社株式会社" in page and "他社株式会社" not in page
    open_now = {k for k, info in rounds_at(clock.now()).items() if info.accepting}
    offered = {k for k in rounds_at(clock.now()) if f'<option value="{k}"' in page}
    assert offered == open_now


def test_staff_mypage_offers_no_application_for_every_business(client: Client) -> None:
    organization(user("owner@example.jp"), name="申請者株式会社")
    client.force_login(user("office@example.jp", Role.SECRETARIAT))
    page = client.get("/mypage/").content.decode()
    assert "申請者株式会社" not in page and 'name="organization"' not in page


def test_mypage_names_the_round_instead_of_its_id(client: Client) -> None:
    from shien.applications.models import State
    from shien.applications.tests.test_applicant_builders import at_state, people

    owner, office = people()
    draft = at_state(State.DRAFT, owner, office)
    at_state(State.GRANTED, owner, office)
    client.force_login(owner)
    page = client.get("/mypage/").content.decode()
    name = next(r.name for r in registry().programs["monozukuri"].rounds if r.id == draft.round_id)
    assert f"ものづくり補助金 省力化(オーダーメイド)枠（{name}）" in page
    assert f"（{draft.round_id}）" not in page


@pytest.mark.parametrize(
    ("role", "home", "link"),
    [
        (Role.SECRETARIAT, "/office/", "事務局の画面へ"),
        (Role.BUREAU, "/office/", "経済産業局の画面（閲覧）へ"),
        (Role.REVIEWER, "/office/reviews/", "審査の画面へ"),
    ],
)
def test_staff_land_on_their_own_home_and_mypage_links_to_it(
    client: Client, role: Role, home: str, link: str
) -> None:
    user("office@example.jp", role)
    response = client.post(
        "/accounts/login/", {"username": "office@example.jp", "password": "correct horse battery"}
    )
    assert response.status_code == 302 and response.url == home
    assert client.get(home).status_code == 200
    page = client.get("/mypage/").content.decode()
    assert link in page and f'href="{home}"' in page
    assert "まだ事業者が登録されていません" not in page and "事業者を登録する" not in page
    asked = client.post(
        "/accounts/login/?next=/inbox/",
        {"username": "office@example.jp", "password": "correct horse battery"},
    )
    assert asked.url == "/inbox/"  # a page asked for still wins


def test_advisors_and_vendors_land_on_mypage(client: Client) -> None:
    from shien.accounts.services import advisor_consent_grant

    owner = user("owner@example.jp")
    org = organization(owner, name="相談先株式会社")
    advisor = user("shokokai@example.jp", Role.ADVISOR)
    response = client.post(
        "/accounts/login/", {"username": "shokokai@example.jp", "password": "correct horse battery"}
    )
    assert response.url == "/mypage/"
    page = client.get("/mypage/").content.decode()
    assert "同意を受けた事業者はまだありません" in page and "まだ事業者が登録されていません" not in page
    advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    assert "相談先株式会社" in client.get("/mypage/").content.decode()
    user("vendor@example.jp", Role.VENDOR)
    vendor = Client().post(
        "/accounts/login/", {"username": "vendor@example.jp", "password": "correct horse battery"}
    )
    assert vendor.url == "/mypage/"


@pytest.mark.parametrize(
    "role, page", [(None, "/programs/"), (None, "/mypage/"), (Role.SECRETARIAT, "/office/")]
)
def test_every_page_offers_one_logout_in_the_header_to_a_signed_in_user(
    client: Client, role: Role | None, page: str
) -> None:
    """Logging out is a POST (CSRF) from the header, on every page and on a phone alike, not only at the
    foot of マイページ."""
    assert (
        'action="/accounts/logout/"' not in client.get(page if page == "/programs/" else "/").content.decode()
    )
    client.force_login(user("someone@example.jp", *([role] if role else [])))
    html = client.get(page).content.decode()
    header = html.split("</header>")[0]
    assert header.count('action="/accounts/logout/"') == 1 and html.count('action="/accounts/logout/"') == 1
    assert "ログアウト" in header and "csrfmiddlewaretoken" in header
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session
