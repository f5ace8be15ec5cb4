"""Applicant QA behaviours in a real headless Chromium (from the QA pass in 592b8ee), under the site's
Content-Security-Policy so the scripts run as in production: a value the autosave refuses is announced
in the form's live region and shown, with aria-invalid, right below its field (draft-backup.js), and
correcting it clears both and saves; on a phone the 実績報告 form does not widen the page, and the
ledger's table scrolls sideways by itself and, having nothing focusable, takes focus so the keyboard
can scroll it (site.css, site.js)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from shien.applications import services
from shien.applications.models import Application, State
from shien.applications.tests.factories import organization
from shien.applications.tests.test_applicant_browser import frozen, log_in  # noqa: F401 (fixture)
from shien.applications.tests.test_applicant_builders import PDF, at_state, people

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
NOT_A_NUMBER = "数字で入力してください（例: 1,500,000 または 150万）"
WAGE_RANGE = "時給は0〜100,000円の範囲で入力してください"
PHONE = {"width": 320, "height": 720}  # WCAG 1.4.10 Reflow: 320 CSS px
LONG_NAME = "Mitsumorisho_RobotArm_Kumitate_Line2_2024_saishuban.pdf"  # no break opportunity
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
CHECK = "保存できませんでした。入力内容はこの端末に一時保存されています。上の表示に従って入力内容を確かめてください。"


def lines_of(locator: Any, text: str = "") -> int:
    """How many lines on screen `text` (by default all of the element's text) takes."""
    return int(locator.evaluate(
        """(el, text) => {
          const node = el.firstChild, start = text ? node.data.indexOf(text) : 0;
          const r = document.createRange();
          r.setStart(node, start); r.setEnd(node, text ? start + text.length : node.length);
          return new Set([...r.getClientRects()].filter((b) => b.width > 0).map((b) => Math.round(b.top))).size;
        }""",
        text,
    ))  # fmt: skip


def autosaved(page: Any, label: str, value: str) -> None:
    """Types `value` into the field and leaves it; waits for the autosave's answer to be swapped in."""
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    with page.expect_response(lambda r: r.url.endswith("/autosave/") and r.request.method == "POST"):
        field.press("Tab")
    page.wait_for_function("() => !document.querySelector('#plan.htmx-request')")


def test_refused_autosave_is_announced_and_shown_at_the_field_until_corrected(
    live_server: Any, page: Any
) -> None:
    owner, _ = people()
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka")  # fmt: skip
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/applications/{app.pk}/")
    machinery = page.get_by_label("機械装置・システム構築費", exact=True)
    wage = page.get_by_label("計画する事業場内最低賃金（時給・円）", exact=True)
    live = page.locator("#save-live")
    assert live.get_attribute("role") == "status" and live.get_attribute("aria-live") == "polite"
    expect(machinery).not_to_have_attribute("aria-invalid", "true")

    autosaved(page, "機械装置・システム構築費", "たくさん")
    # announced: the server's message is swapped into the live region that stays in the page
    expect(page.get_by_role("status").filter(has_text=NOT_A_NUMBER)).to_have_id("save-live")
    # and shown at the field: right below it, as its accessible description, the field marked invalid
    error = page.locator("#e-machinery-draft-error")
    expect(error).to_have_text(NOT_A_NUMBER)
    expect(error).to_be_visible()
    assert error.evaluate("(p) => p.previousElementSibling.id") == "e-machinery"
    assert "error" in (error.get_attribute("class") or "")
    expect(machinery).to_have_attribute("aria-invalid", "true")
    expect(machinery).to_have_attribute("aria-describedby", "e-machinery-draft-error")
    expect(machinery).to_have_accessible_description(NOT_A_NUMBER)
    expect(wage).not_to_have_attribute("aria-invalid", "true")
    assert Application.objects.get(pk=app.pk).version == 1  # nothing saved

    autosaved(page, "計画する事業場内最低賃金（時給・円）", "200000")  # a second refusal: both shown
    expect(live).to_contain_text(NOT_A_NUMBER)
    expect(live).to_contain_text(WAGE_RANGE)
    expect(wage).to_have_attribute("aria-invalid", "true")
    expect(wage).to_have_accessible_description(WAGE_RANGE)
    expect(machinery).to_have_accessible_description(NOT_A_NUMBER)
    expect(page.locator("[data-draft-error]")).to_have_count(2)  # one message per field, not repeated

    autosaved(page, "機械装置・システム構築費", "1,500万")  # corrected: its error goes, the other stays
    expect(live).not_to_contain_text(NOT_A_NUMBER)
    expect(live).to_contain_text(WAGE_RANGE)
    expect(page.locator("#e-machinery-draft-error")).to_have_count(0)
    expect(machinery).not_to_have_attribute("aria-invalid", "true")
    expect(machinery).not_to_have_attribute("aria-describedby", "e-machinery-draft-error")
    expect(machinery).to_have_accessible_description("")
    expect(wage).to_have_accessible_description(WAGE_RANGE)
    assert Application.objects.get(pk=app.pk).version == 1  # the form is saved whole or not at all

    autosaved(page, "計画する事業場内最低賃金（時給・円）", "1050")  # all correct: saved
    expect(page.get_by_role("status").filter(has_text="保存しました")).to_have_id("save-live")
    expect(page.locator("[data-draft-error]")).to_have_count(0)
    expect(page.locator("#plan [aria-invalid]")).to_have_count(0)
    expect(wage).to_have_accessible_description("")
    expect(page.locator("#backup-status")).to_be_hidden()
    saved = Application.objects.get(pk=app.pk)
    assert saved.version == 2
    assert saved.plan["expenses"] == [{"category": "machinery", "amount_yen": 15_000_000}]
    assert saved.plan["commitments"]["planned_min_hourly_wage_yen"] == 1050


def test_refused_autosave_keeps_the_backup_of_what_was_typed(live_server: Any, page: Any) -> None:
    owner, _ = people()
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka")  # fmt: skip
    log_in(page, live_server, owner)
    url = f"{live_server.url}/applications/{app.pk}/"
    page.goto(url)
    page.get_by_label("計画する事業場内最低賃金（時給・円）", exact=True).fill("1050")
    autosaved(page, "機械装置・システム構築費", "たくさん")  # one autosave of both, refused
    expect(page.locator("#e-machinery-draft-error")).to_have_text(NOT_A_NUMBER)
    assert Application.objects.get(pk=app.pk).version == 1  # the server kept nothing of it
    backups = "() => Object.keys(localStorage).filter((k) => k.startsWith('shien:draft:')).length"
    assert page.evaluate(backups) == 1, "the browser's backup was cleared by a refused autosave"
    expect(page.get_by_role("alert").filter(has_text=CHECK)).to_be_visible()
    page.reload()  # e.g. the tab was closed and the draft opened again
    expect(page.locator("#draft-restore")).to_be_visible()
    page.get_by_role("button", name="端末に残っている入力を復元").click()
    assert page.get_by_label("計画する事業場内最低賃金（時給・円）", exact=True).input_value() == "1050"


def test_ledger_on_a_phone_scrolls_inside_its_table_and_by_keyboard(live_server: Any, browser: Any) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    services.attachment_add(actor=owner, application=app, name=LONG_NAME, content=PDF + b"quote")
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport=PHONE)
    try:
        page = context.new_page()
        log_in(page, live_server, owner)
        page.goto(f"{live_server.url}/applications/{app.pk}/report/")
        # the 実績報告 form: a long file name among the options does not widen the page
        page.get_by_label("内容（明細 1）").fill("組立ロボット")
        page.get_by_label("金額（税抜・円）（明細 1）").fill("6,000万")
        evidence = page.get_by_label("または添付済みのファイルから選ぶ（明細 1）")
        evidence.select_option(label=f"{LONG_NAME}（{app.attachments.get().sha256[:8]}）")
        assert page.evaluate(SIDEWAYS) == 0
        box = evidence.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        page.get_by_role("button", name="この内容で実績報告する").click()
        page.get_by_text("実績報告を受け付けました").wait_for()
        page.wait_for_load_state()  # the stylesheet and site.js too

        # the ledger on the application: the table scrolls sideways by itself, not the page
        ledger = page.get_by_role("region", name="実績報告の明細").get_by_role("table")
        assert page.evaluate(SIDEWAYS) == 0
        assert ledger.evaluate("(t) => t.scrollWidth > t.clientWidth")
        amount = ledger.get_by_role("cell", name="60,000,000円")
        assert lines_of(amount, "60,000,000") == 1  # the digits of an amount are never split
        for header in ledger.get_by_role("columnheader").all():
            assert lines_of(header) == 1, header.inner_text()
        # nothing in it can take focus, so the table itself does (site.js), and the keyboard scrolls it
        expect(ledger).to_have_attribute("tabindex", "0")
        ledger.focus()
        assert ledger.evaluate("(t) => document.activeElement === t")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(t) => t.scrollLeft > 0", arg=ledger.element_handle())

        page.set_viewport_size({"width": 1280, "height": 800})  # wide enough: an ordinary table again
        expect(ledger).not_to_have_attribute("tabindex", "0")
        assert ledger.evaluate("(t) => t.scrollWidth <= t.clientWidth")
    finally:
        context.close()
