"""The applicant in a real headless Chromium: the 実績報告 ledger (per-row errors, a file per row, an
attached file picked, WCAG checked with axe-core), and the draft backup in the browser surviving an
expired session (CSP enforced, so draft-backup.js runs as it would in production)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock, axe_violations
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from shien.applications import services
from shien.applications.models import Application, State
from shien.applications.tests.factories import organization
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
FAILED = "保存できませんでした。入力内容はこの端末に一時保存されています"


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def log_in(page: Any, live_server: Any, user: Any) -> None:
    """A fresh session for `user` in the browser (as after the login form, without depending on it)."""
    client = Client()
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )


def test_results_report_ledger_with_row_errors_then_accepted(
    live_server: Any, browser: Any, axe_source: str, artifacts: Any
) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    invoice = services.attachment_add(
        actor=owner, application=app, name="請求書.pdf", content=PDF + b"invoice"
    )
    context = browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", bypass_csp=True
    )  # to inject axe-core
    page = context.new_page()
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/applications/{app.pk}/")
    page.get_by_role("link", name="実績報告を入力する").click()
    page.get_by_role("heading", name="実績報告（経費の明細）").wait_for()
    assert not axe_violations(page, axe_source)
    assert page.get_by_label("経費区分（明細 1）").input_value() == "machinery"  # from the plan
    page.get_by_label("内容（明細 1）").fill("組立ロボット")
    page.get_by_label("金額（税抜・円）（明細 1）").fill("5,000万")
    page.get_by_label("証憑のファイルを添付（明細 1）").set_input_files(
        {"name": "領収書.pdf", "mimeType": "application/pdf", "buffer": PDF + b"receipt"}
    )
    page.get_by_label("経費区分（明細 2）").select_option("machinery")
    page.get_by_label("内容（明細 2）").fill("周辺装置")
    page.get_by_label("金額（税抜・円）（明細 2）").fill("八百万")
    page.get_by_label("または添付済みのファイルから選ぶ（明細 2）").select_option(invoice.sha256)
    page.get_by_role("button", name="この内容で実績報告する").click()
    page.locator("#row-2-errors", has_text="2行目: 金額は数字で入力してください").wait_for()
    assert page.get_by_role("alert").first.inner_text().startswith("入力内容を確認してください")
    receipt = app.attachments.get(name="領収書.pdf")
    assert page.get_by_label("または添付済みのファイルから選ぶ（明細 1）").input_value() == receipt.sha256
    assert page.get_by_label("内容（明細 2）").input_value() == "周辺装置"  # nothing typed is lost
    page.screenshot(path=str(artifacts / "applicant-ledger-errors.png"), full_page=True)
    violations = axe_violations(page, axe_source)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
    page.get_by_label("金額（税抜・円）（明細 2）").fill("800万")
    page.get_by_role("button", name="この内容で実績報告する").click()
    page.get_by_text("実績報告を受け付けました").wait_for()
    assert page.locator("#app-state").inner_text() == "実績報告済み"
    app.refresh_from_db()
    assert app.state == State.RESULTS_REPORTED
    assert sorted(app.expense_lines.values_list("description", "amount_yen")) == [
        ("周辺装置", 8_000_000), ("組立ロボット", 50_000_000)]  # fmt: skip
    page.screenshot(path=str(artifacts / "applicant-reported.png"), full_page=True)
    violations = axe_violations(page, axe_source)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
    page.goto(f"{live_server.url}/applications/{at_state(State.SUBMITTED, owner, office).pk}/withdraw/")
    violations = axe_violations(page, axe_source)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
    context.close()


def test_draft_backup_survives_an_expired_session_and_is_restored(live_server: Any, page: Any) -> None:
    owner, _ = people()
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka")  # fmt: skip
    log_in(page, live_server, owner)
    url = f"{live_server.url}/applications/{app.pk}/"
    page.goto(url)
    page.get_by_label("機械装置・システム構築費").fill("6000万")
    page.get_by_label("機械装置・システム構築費").press("Tab")
    page.locator("#save-status", has_text="保存しました").wait_for()
    assert Application.objects.get(pk=app.pk).plan["expenses"][0]["amount_yen"] == 60_000_000

    page.context.clear_cookies(name=django_settings.SESSION_COOKIE_NAME)  # the session expires
    page.get_by_label("省力化・人手不足の解消").check()
    page.get_by_label("計画する事業場内最低賃金（時給・円）").fill("1050")
    page.get_by_label("付加価値額の年平均成長率の計画（%）").fill("3.0")
    page.get_by_label("付加価値額の年平均成長率の計画（%）").press("Tab")
    page.locator("#backup-status", has_text=FAILED).wait_for()
    assert page.locator("#backup-status").is_visible()
    stored = Application.objects.get(pk=app.pk).plan
    assert stored["purposes"] == [] and "planned_min_hourly_wage_yen" not in stored["commitments"]

    log_in(page, live_server, owner)  # logs in again and comes back
    page.goto(url)
    assert page.get_by_label("計画する事業場内最低賃金（時給・円）").input_value() == ""  # the server's copy
    page.get_by_role("button", name="端末に残っている入力を復元").click()
    page.locator("#save-status", has_text="保存しました").wait_for()
    assert page.get_by_label("計画する事業場内最低賃金（時給・円）").input_value() == "1050"
    plan = Application.objects.get(pk=app.pk).plan
    assert plan["purposes"] == ["labor_saving"]
    assert plan["expenses"] == [{"category": "machinery", "amount_yen": 60_000_000}]
    assert plan["commitments"]["planned_min_hourly_wage_yen"] == 1050
    assert plan["commitments"]["value_added_cagr_pct"] == "3.0"
    page.wait_for_function("() => !Object.keys(localStorage).some(k => k.startsWith('shien:draft:'))")
    page.reload()  # cleared after the successful save: nothing more to restore
    assert page.locator("#draft-restore").is_hidden()


def test_plan_change_shows_the_new_estimate_as_typed_then_is_requested(live_server: Any, page: Any) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/applications/{app.pk}/")
    page.get_by_role("link", name="計画変更を申請する").click()
    page.get_by_label("機械装置・システム構築費").fill("3000万")
    page.get_by_label("機械装置・システム構築費").press("Tab")  # htmx recomputes without a reload
    page.locator("#change-estimate", has_text="15,000,000円").wait_for()
    page.get_by_label("変更の理由").fill("見積りが下がったため")
    page.get_by_role("button", name="計画変更を申請する").click()
    page.get_by_text("計画変更を申請しました").wait_for()
    assert "承認されても交付決定額は増えません" in page.locator("#changes").inner_text()
    change = app.change_requests.get()
    assert (change.status, change.estimate_yen) == ("pending", 15_000_000)


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


def test_a_stale_second_tab_keeps_what_was_typed_and_offers_it_after_reload(
    live_server: Any, page: Any
) -> None:
    """Two tabs on one draft: A saves, then B (still on the older version) types and is refused (409).
    After reloading B, what B typed is offered, saying it was typed on an older version and naming what it
    would overwrite; restoring applies B's own edits on top of A's saved ones."""
    owner, _ = people()
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka")  # fmt: skip
    log_in(page, live_server, owner)
    url = f"{live_server.url}/applications/{app.pk}/"
    tab_a = page
    tab_a.goto(url)
    tab_b = page.context.new_page()  # the same browser: the same localStorage
    tab_b.goto(url)

    autosaved(tab_a, "機械装置・システム構築費", "6,000万")
    expect(tab_a.get_by_role("status").filter(has_text="保存しました")).to_have_id("save-live")
    assert Application.objects.get(pk=app.pk).version == 2

    autosaved(tab_b, "計画する事業場内最低賃金（時給・円）", "1050")
    expect(tab_b.locator("#save-live")).to_contain_text("別の画面で更新されています")
    expect(tab_b.locator("#backup-status")).to_contain_text(
        "読み込み直すと、この端末に残っている入力を復元するかどうか選べます"
    )
    assert "planned_min_hourly_wage_yen" not in Application.objects.get(pk=app.pk).plan["commitments"]

    tab_a.bring_to_front()  # A goes on saving: B's backup is B's, not A's to clear
    autosaved(tab_a, "付加価値額の年平均成長率の計画（%）", "3.0")
    expect(tab_a.get_by_role("status").filter(has_text="保存しました")).to_have_id("save-live")

    tab_b.bring_to_front()
    tab_b.reload()
    restore = tab_b.locator("#draft-restore")
    expect(restore).to_be_visible()
    expect(restore).to_contain_text("別の画面で新しい内容が保存される前の古い内容に対して行われたもの")
    expect(restore).to_contain_text("別の画面で保存された新しい内容を、この入力で上書きします")
    expect(tab_b.locator("#draft-restore-field-list")).to_have_text("計画する事業場内最低賃金（時給・円）")
    wage = tab_b.get_by_label("計画する事業場内最低賃金（時給・円）", exact=True)
    assert wage.input_value() == ""  # the server's copy until the user decides
    with tab_b.expect_response(lambda r: r.url.endswith("/autosave/") and r.request.method == "POST"):
        tab_b.get_by_role("button", name="端末に残っている入力を復元").click()
    expect(tab_b.get_by_role("status").filter(has_text="保存しました")).to_have_id("save-live")
    assert wage.input_value() == "1050"
    plan = Application.objects.get(pk=app.pk).plan
    assert plan["commitments"]["planned_min_hourly_wage_yen"] == 1050  # B's edit
    assert plan["expenses"] == [{"category": "machinery", "amount_yen": 60_000_000}]  # A's edits stay
    assert plan["commitments"]["value_added_cagr_pct"] == "3.0"
    tab_b.reload()
    expect(tab_b.locator("#draft-restore")).to_be_hidden()  # nothing left to offer
    tab_b.close()


def test_a_stale_backup_may_be_discarded(live_server: Any, page: Any) -> None:
    owner, _ = people()
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka")  # fmt: skip
    log_in(page, live_server, owner)
    url = f"{live_server.url}/applications/{app.pk}/"
    page.goto(url)
    other = page.context.new_page()
    other.goto(url)
    autosaved(page, "計画する事業場内最低賃金（時給・円）", "1000")
    autosaved(other, "計画する事業場内最低賃金（時給・円）", "1100")  # refused: A saved first
    expect(other.locator("#save-live")).to_contain_text("別の画面で更新されています")
    other.reload()
    expect(other.locator("#draft-restore-stale")).to_be_visible()
    other.get_by_role("button", name="破棄する").click()
    expect(other.locator("#draft-restore")).to_be_hidden()
    other.reload()
    expect(other.locator("#draft-restore")).to_be_hidden()
    assert other.get_by_label("計画する事業場内最低賃金（時給・円）", exact=True).input_value() == "1000"
    other.close()


def test_back_after_withdrawing_never_shows_a_live_withdraw_button(live_server: Any, page: Any) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/applications/{app.pk}/")
    page.get_by_role("link", name="申請を取り下げる").click()
    page.get_by_label("取下げの理由").fill("事業計画を見直すため")
    page.get_by_role("button", name="確認へ進む").click()
    page.get_by_role("button", name="取り下げる").click()
    page.get_by_text("申請を取り下げました").wait_for()
    page.go_back()  # to the confirmation step: its history entry is a plain GET now, so it asks again
    page.get_by_text("この申請は取り下げ済みです").wait_for()  # … and lands on the application as it is
    assert page.url == f"{live_server.url}/applications/{app.pk}/"
    expect(page.locator("#app-state")).to_have_text("取下げ")
    expect(page.get_by_role("button", name="取り下げる")).to_have_count(0)


def test_back_reloads_the_application_as_it_is_now(live_server: Any, page: Any) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    log_in(page, live_server, owner)
    page.goto(f"{live_server.url}/applications/{app.pk}/")
    expect(page.locator("#app-state")).to_have_text("申請済み")
    page.get_by_role("link", name="申請を取り下げる").click()
    page.get_by_label("取下げの理由").wait_for()
    services.application_withdraw(actor=owner, application=app, reason="別の画面で取下げ")
    page.go_back()  # not the page as it was: reloaded
    expect(page.locator("#app-state")).to_have_text("取下げ")
    expect(page.get_by_role("link", name="申請を取り下げる")).to_have_count(0)
    page.go_forward()  # the reason form again: the application is withdrawn, so its page instead
    expect(page.get_by_text("この申請は取り下げ済みです")).to_be_visible()
    expect(page.get_by_role("button", name="確認へ進む")).to_have_count(0)


def test_mypage_tables_keep_readable_columns_on_a_phone_and_whole_amounts_on_a_desktop(
    live_server: Any, browser: Any
) -> None:
    """マイページ's tables (a frame's long name beside amounts and dates): on a phone no column is
    squeezed to two or three characters a line (the table scrolls sideways instead), and wider, where
    the table fits, an amount's digits are never split across lines (site.css: cells' min-width and
    overflow-wrap, not main's `anywhere`)."""
    owner, office = people()
    at_state(State.DRAFT, owner, office)
    at_state(State.GRANTED, owner, office)
    context = browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        log_in(page, live_server, owner)
        page.goto(f"{live_server.url}/mypage/")
        assert page.evaluate(SIDEWAYS) == 0
        widths = page.locator("main td").evaluate_all(
            "(cells) => cells.map((c) => c.getBoundingClientRect().width)"
        )
        assert len(widths) >= 10 and min(widths) >= 6 * 16, widths  # 6rem: about six characters a line

        page.set_viewport_size({"width": 700, "height": 800})  # a tablet: the columns share the width
        amounts = page.get_by_role("cell", name="25,000,000円", exact=True).all()
        assert len(amounts) >= 3  # the draft's estimate, the granted one's estimate and grant
        for cell in amounts:
            assert lines_of(cell, "25,000,000") == 1
    finally:
        context.close()
