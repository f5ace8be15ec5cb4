"""The applicant in a real headless Chromium: the 実績報告 ledger (per-row errors, a file per row, an
attached file picked, WCAG checked with axe-core), and the draft backup in the browser surviving an
expired session (CSP enforced, so draft-backup.js runs as it would in production)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Clock, axe_violations
from django.conf import settings as django_settings
from django.test import Client

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
