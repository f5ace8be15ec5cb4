"""The home page and the demo data, on the real database; the home page in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shien.accounts.models import Organization, User
from shien.programs.models import News

pytestmark = pytest.mark.django_db


def test_home_lists_every_program(client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    for name in (
        "ものづくり補助金",
        "持続化補助金",
        "IT導入補助金",
        "デジタルアメーバ",
        "マナビDX",
        "公募スケジュール",
    ):
        assert name in body
    assert len(queries) <= 2  # the news list, nothing per program


def test_demo_data_loads_idempotently() -> None:
    call_command("load_demo")
    call_command("load_demo")
    assert News.objects.count() == 6
    assert (
        User.objects.count() == 5 and Organization.objects.count() == 1
    )  # no practice rounds: no demo applications


@pytest.mark.browser
def test_home_in_chromium_is_japanese_and_keyboard_reachable(
    live_server: Any, page: Any, artifacts: Any
) -> None:
    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.get_by_role("heading", name="中小企業の支援制度").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
    for width, name in ((390, "phone"), (1280, "desktop")):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts / f"home-{name}.png"), full_page=True)
