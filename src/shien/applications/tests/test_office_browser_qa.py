"""Back-office QA behaviours in a real headless Chromium (from the QA pass in 592b8ee): a search in the
申請一覧 is replaced by htmx and its address pushed; 戻る and 進む show each search's results with the
search fields as the address says (site.js sets them on htmx:historyRestore, because htmx's cached
copy of the page has the fields as the HTML first had them, not as typed), and coming back from an
application opened from the results shows the whole page of the search."""

from __future__ import annotations

from typing import Any

import pytest

from shien.accounts.models import Role
from shien.applications import workflow
from shien.applications.models import Application
from shien.applications.tests.factories import user
from shien.applications.tests.test_office_browser import AT, log_in, setup, submitted  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SEARCH = "受付番号・事業者名・法人番号"


def companies(page: Any) -> list[str]:
    """The 事業者 column of the results table, in order."""
    return page.locator("#results tbody tr td:nth-child(2)").all_inner_texts()


def search(page: Any, q: str, state: str) -> None:
    """Types a search and sends it with 検索 (htmx replaces #results and pushes the address)."""
    before = page.url
    page.evaluate("() => { window.sameDocument = true; }")
    page.get_by_label(SEARCH).fill(q)
    page.get_by_label("状態").select_option(label=state)
    page.get_by_role("button", name="検索").click()
    page.wait_for_function("(before) => location.href !== before", arg=before)
    assert page.evaluate("() => window.sameDocument === true")  # htmx, not a page load


def shown(page: Any, url_part: str, q: str, state: str, names: list[str]) -> None:
    """The address, the search fields and the results all describe the same search."""
    page.wait_for_function("(part) => location.search.includes(part)", arg=url_part)
    page.get_by_role("heading", name="申請一覧").wait_for()  # the whole page, not the htmx fragment
    page.wait_for_function(  # the results of this search have arrived (not the previous ones)
        "(names) => JSON.stringify([...document.querySelectorAll('#results tbody tr td:nth-child(2)')]"
        ".map((td) => td.textContent.trim()).sort()) === JSON.stringify(names)",
        arg=sorted(names),
    )
    assert page.locator("#results p strong").inner_text() == f"{len(names)}件"
    assert page.get_by_label(SEARCH).input_value() == q
    assert page.get_by_label("状態").input_value() == state
    assert sorted(companies(page)) == sorted(names)


@pytest.fixture
def office(live_server: Any, page: Any) -> dict[str, Application]:
    """The secretariat on 申請一覧 with three applications; 広島精機 is under review."""
    secretariat = user("jimukyoku@example.jp", Role.SECRETARIAT)
    apps = {name: submitted(name, amount) for name, amount in (
        ("広島精機", 40_000_000), ("広島商事", 30_000_000), ("呉工業", 60_000_000))}  # fmt: skip
    apps["広島精機"] = workflow.transition(
        actor=secretariat, application=apps["広島精機"], action_name="start_review"
    )
    log_in(page, live_server.url + "/office/applications/", secretariat)
    page.get_by_role("heading", name="申請一覧").wait_for()
    page.wait_for_load_state()  # htmx is ready: 検索 goes through it
    return apps


def test_back_and_forward_between_searches_restore_fields_and_results(
    page: Any, office: dict[str, Application]
) -> None:
    shown(page, "", "", "", ["広島精機", "広島商事", "呉工業"])
    search(page, "広島", "審査中")
    shown(page, "state=under_review", "広島", "under_review", ["広島精機"])
    search(page, "呉", "すべて")
    shown(page, "q=%E5%91%89", "呉", "", ["呉工業"])

    page.go_back()  # htmx restores ?q=広島&state=under_review from its history cache
    shown(page, "state=under_review", "広島", "under_review", ["広島精機"])
    page.go_forward()
    shown(page, "q=%E5%91%89", "呉", "", ["呉工業"])
    page.go_back()
    page.go_back()  # the list as first opened
    page.wait_for_function("() => location.search === ''")
    shown(page, "", "", "", ["広島精機", "広島商事", "呉工業"])


def test_search_survives_opening_an_application_and_going_back(
    page: Any, office: dict[str, Application]
) -> None:
    search(page, "広島", "すべて")
    shown(page, "q=%E5%BA%83%E5%B3%B6", "広島", "", ["広島精機", "広島商事"])
    receipt = office["広島精機"].receipt_number
    page.get_by_role("link", name=receipt).click()  # a full page (hx-boost="false")
    page.get_by_role("heading", name=receipt).wait_for()
    page.go_back()
    page.wait_for_url("**/office/applications/?q=*")
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="申請一覧").count() == 1, page.locator("body").inner_html()[:200]
    shown(page, "q=%E5%BA%83%E5%B3%B6", "広島", "", ["広島精機", "広島商事"])


def test_back_to_a_search_no_longer_in_htmx_history_cache(page: Any, office: dict[str, Application]) -> None:
    search(page, "広島", "審査中")
    search(page, "呉", "すべて")
    # htmx keeps the last 10 pages (htmx.config.historyCacheSize) in sessionStorage: older ones, or
    # a page too large to store, are fetched again from the server when 戻る reaches them
    page.evaluate("() => sessionStorage.removeItem('htmx-history-cache')")
    page.go_back()
    page.wait_for_function("() => location.search.includes('state=under_review')")
    page.locator("#results td", has_text="広島精機").wait_for()  # the page came back from the server
    assert page.locator("form[role=search]").count() == 1, page.locator("body").inner_html()[:200]
    shown(page, "state=under_review", "広島", "under_review", ["広島精機"])
