"""The back office in a real Chromium: the secretariat logs in, opens the queue, assigns a reviewer and
starts the review; the reviewer declares no conflict and scores; the secretariat sets the round's
budget, adopts within it after the confirmation, and decides the grant. WCAG checks with axe-core."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import Clock, axe_violations

from shien.accounts.models import Role, User
from shien.applications import services, workflow
from shien.applications.models import Application, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.rules.registry import JST

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)
PASSWORD = "correct horse battery"  # the factories' password  # noqa: S105


@pytest.fixture(autouse=True)
def setup(settings: Any, tmp_path: Any, clock: Clock) -> None:
    clock.set(AT)
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def submitted(name: str, amount: int) -> Application:
    owner = user(f"{name}@example.jp")
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": amount}]}
    app = services.application_create(actor=owner, organization=organization(owner, name=name),
                                      program="monozukuri", frame="shoryokuka", plan=plan)  # fmt: skip
    return services.application_submit(actor=owner, application=app, at=AT)


def log_in(page: Any, url: str, who: User) -> None:
    page.goto(url)
    page.get_by_label("メールアドレス").fill(who.email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()


def accessible(browser: Any, page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core on the page's current URL, in a context with the same login that lets it inject axe."""
    context = browser.new_context(locale="ja-JP", bypass_csp=True, storage_state=page.context.storage_state())
    checked = context.new_page()
    checked.goto(page.url)
    violations = axe_violations(checked, axe_source)
    context.close()
    return violations


def test_secretariat_from_queue_to_grant_decision(
    live_server: Any, browser: Any, page: Any, artifacts: Any, axe_source: str
) -> None:
    secretariat = user("jimukyoku@example.jp", Role.SECRETARIAT)
    reviewer = user("shinsa@example.jp", Role.REVIEWER)
    User.objects.filter(pk=reviewer.pk).update(name="審査 一郎")
    top = submitted("広島精機", 40_000_000)  # 補助金額（試算）18,333,333円
    submitted("呉工業", 60_000_000)  # stays in the queue
    base = live_server.url
    refused: list[str] = []  # the pages must work under the site's Content-Security-Policy
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    log_in(page, base + "/office/", secretariat)
    page.get_by_role("heading", name="事務局トップ").wait_for()
    page.get_by_role("link", name="申請済み 2件の一覧").click()
    page.get_by_role("heading", name="申請一覧").wait_for()
    page.get_by_role("link", name=top.receipt_number).click()
    page.get_by_role("heading", name=top.receipt_number).wait_for()
    page.get_by_label("審査員", exact=True).select_option(label="審査 一郎（shinsa@example.jp）")
    page.get_by_role("button", name="審査員を割り当てる").click()
    page.get_by_text("審査 一郎 さんを審査員に割り当てました").wait_for()
    page.get_by_role("button", name="審査を開始する").click()
    page.get_by_text("「審査開始」しました").wait_for()

    other = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    scorer = other.new_page()
    log_in(scorer, base + "/office/reviews/", reviewer)
    scorer.get_by_role("heading", name="担当の審査").wait_for()
    scorer.get_by_role("link", name=top.receipt_number).click()
    scorer.get_by_label("ない", exact=True).check()
    scorer.get_by_role("button", name="申告する").click()
    scorer.get_by_text("利益相反がないことを申告しました").wait_for()
    for label, points in (("技術面", "9"), ("事業化面", "8"), ("政策面", "7")):
        scorer.get_by_label(label).fill(points)
    assert accessible(browser, scorer, axe_source) == []
    scorer.get_by_role("button", name="採点を保存する").click()
    scorer.get_by_text("採点を保存しました（合計 24点）").wait_for()
    scorer.screenshot(path=str(artifacts / "office-review.png"), full_page=True)
    other.close()

    page.get_by_role("link", name="ものづくり補助金 18次公募（全枠） の状況").click()
    page.get_by_role("heading", name="公募回の状況").wait_for()
    page.get_by_label("予算額（円）").fill("2,000万")
    page.get_by_role("button", name="予算額を設定する").click()
    page.get_by_text("予算額を 20,000,000円 に設定しました").wait_for()
    assert accessible(browser, page, axe_source) == []
    page.screenshot(path=str(artifacts / "office-round.png"), full_page=True)
    page.get_by_role("link", name="予算内で採択").click()
    page.get_by_role("heading", name="予算内で採択").wait_for()
    assert "18,333,333円" in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts / "office-adopt-confirm.png"), full_page=True)
    page.get_by_role("button", name="1件を採択する").click()
    page.get_by_text("1件を採択しました").wait_for()
    assert "1,666,667円" in page.locator("main").inner_text()  # the remaining budget

    owner = top.organization.memberships.get().user
    workflow.transition(
        actor=owner, application=Application.objects.get(pk=top.pk), action_name="request_grant"
    )
    page.get_by_role("link", name="申請一覧").click()
    page.get_by_label("受付番号・事業者名・法人番号").fill("広島精機")
    page.get_by_role("button", name="検索").click()  # htmx replaces the results and the address
    page.wait_for_url("**/office/applications/?q=*")
    assert page.locator("#results").get_by_text("1件", exact=True).is_visible()
    page.screenshot(path=str(artifacts / "office-list.png"), full_page=True)
    page.get_by_role("link", name=top.receipt_number).click()
    assert page.get_by_label("交付決定額（円）").input_value() == "18,333,333"
    page.get_by_role("button", name="交付決定する").click()
    page.get_by_text("交付決定しました（交付決定額 18,333,333円）").wait_for()
    page.screenshot(path=str(artifacts / "office-application.png"), full_page=True)
    assert accessible(browser, page, axe_source) == []
    decided = Application.objects.get(pk=top.pk)
    assert (decided.state, decided.granted_yen) == (State.GRANTED, 18_333_333)
    assert refused == []


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
