"""Autosave refuses amounts no business could mean, with the message next to the field."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import Clock
from django.test import Client

from shien.applications import services
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db


def test_huge_amounts_and_wages_are_refused_and_nothing_is_saved(client: Client, clock: Clock) -> None:
    clock.set(datetime(2024, 3, 20, 10, tzinfo=JST))
    owner = user("owner@example.jp")
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    client.force_login(owner)
    url = f"/applications/{app.pk}/autosave/"
    huge = client.post(url, {"version": 1, "e_machinery": "9" * 26, "purposes": ["labor_saving"]})
    assert huge.status_code == 422 and "金額が大きすぎます" in huge.content.decode()
    wage = client.post(url, {"version": 1, "e_machinery": "100万", "planned_wage": "1000000"})
    assert wage.status_code == 422 and "時給は0〜100,000円" in wage.content.decode()
    app.refresh_from_db()
    assert app.version == 1 and app.plan == MONOZUKURI_PLAN
