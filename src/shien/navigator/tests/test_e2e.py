"""A newcomer in a real Chromium: home → 診断 → result; keyboard only; screenshots; WCAG (axe-core)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import axe_violations

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def fill_example(page: Any) -> None:
    page.get_by_label("業種").select_option("製造業")
    page.get_by_label("常時使用する従業員数").fill("30")
    page.get_by_label("資本金（万円）").fill("10000")
    page.get_by_label("所在地（都道府県）").select_option("広島県")
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("いまの事業場内最低賃金（時給・円）").fill("1000")
    page.get_by_label("引き上げる予定の事業場内最低賃金（時給・円）").fill("1050")
    page.get_by_role("button", name="次へ").click()
    page.get_by_label("省力化・人手不足の解消").check()
    page.get_by_label("機械装置・システム構築費").fill("6000万")


def test_newcomer_goes_from_home_through_shindan_to_the_right_amount(
    live_server: Any, page: Any, artifacts: Any
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="自社が使える補助金を診断する").click()
    page.get_by_role("heading", name="補助金の診断").wait_for()  # waits for the navigation to render
    fill_example(page)
    page.get_by_role("button", name="結果を見る").click()
    page.wait_for_url("**/shindan/result/**")
    first = page.locator("section.result").first
    first.wait_for()
    assert "ものづくり補助金 省力化(オーダーメイド)枠" in first.inner_text()
    assert "25,000,000円" in first.locator(".amount").inner_text()
    for width, name in ((390, "phone"), (1280, "desktop")):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts / f"shindan-result-{name}.png"), full_page=True)
    # printing shows the results, not the controls
    page.emulate_media(media="print")
    assert not page.locator("form.filters").is_visible() and not page.locator(".site-header nav").is_visible()
    assert page.locator("section.result").first.is_visible()
    page.pdf(path=str(artifacts / "shindan-result-print.pdf"))
    page.emulate_media(media="screen")
    # the link reproduces the result without anything stored
    again = page.context.new_page()
    again.goto(page.url)
    assert "25,000,000円" in again.locator("section.result .amount").first.inner_text()


def test_keyboard_only(live_server: Any, page: Any) -> None:
    """The whole 診断 with the keyboard: skip link, fields, steps (focus follows the new step), result."""
    page.goto(live_server.url + "/shindan/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
    page.keyboard.press("Enter")
    for _ in range(20):  # Tab from the top of the main content to the first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-industry":
            break
    page.keyboard.press("ArrowDown")  # 製造業, the first option after the placeholder
    page.keyboard.press("Tab")
    page.keyboard.type("30")
    page.keyboard.press("Tab")
    page.keyboard.type("10000")
    page.keyboard.press("Tab")
    for _ in range(34):  # 広島県 is the 34th prefecture
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == "広島県"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "次へ"
    page.keyboard.press("Enter")
    page.wait_for_selector("#f-min_wage:focus")  # focus moved to the new step
    page.keyboard.type("1000")
    page.keyboard.press("Tab")
    page.keyboard.type("1050")
    page.keyboard.press("Enter")  # submits the step
    page.wait_for_selector("#f-purpose-labor_saving:focus")
    page.keyboard.press("Space")
    page.focus("#f-e_machinery")  # (no pointer: moves focus like Tab would after the purposes)
    page.keyboard.type("6000万")
    page.keyboard.press("Enter")
    page.wait_for_url("**/shindan/result/**")
    assert "25,000,000円" in page.locator("section.result .amount").first.inner_text()
    outline = page.evaluate(
        "(() => { const a = document.querySelector('main a'); a.focus(); return getComputedStyle(a).outlineStyle; })()"
    )
    assert outline == "solid"  # a visible focus indicator


PAGES = ["/", "/programs/", "/programs/monozukuri/", "/programs/digital_amoeba/", "/schedule/",
         "/compare/?a=monozukuri/shoryokuka&b=shoryokuka/catalog", "/shindan/"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_pages_meet_wcag_aa_and_are_saved_as_screenshots(
    live_server: Any, browser: Any, axe_source: str, artifacts: Any, path: str
) -> None:
    context = browser.new_context(locale="ja-JP", bypass_csp=True)  # to inject axe-core
    page = context.new_page()
    page.goto(live_server.url + path)
    name = path.strip("/").replace("/", "-").split("?")[0] or "home"
    for width, device in ((390, "phone"), (1280, "desktop")):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts / f"{name}-{device}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
            f"{path} scrolls sideways at {width}px"
        )
    violations = axe_violations(page, axe_source)
    context.close()
    assert not violations, [(v["id"], v["help"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
