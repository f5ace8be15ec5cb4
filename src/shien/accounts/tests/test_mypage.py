"""マイページ offers to apply only for the user's own organizations and only in frames open now."""

from __future__ import annotations

import pytest
from django.test import Client

from shien.accounts.models import Role
from shien.applications.tests.factories import organization, user
from shien.rules.engine import now
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
    open_now = {k for k, info in rounds_at(now()).items() if info.accepting}
    offered = {k for k in rounds_at(now()) if f'<option value="{k}"' in page}
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
