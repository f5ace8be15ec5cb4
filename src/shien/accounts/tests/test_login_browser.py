"""In a real Chromium: 「GビズIDでログイン」 through the local provider; enabling 2FA and the two-step login."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import axe_violations
from django_otp.plugins.otp_totp.models import TOTPDevice

from shien.accounts.models import ExternalIdentity, User
from shien.accounts.tests.conftest import Totp
from shien.accounts.tests.oidc_provider import Provider
from shien.applications.tests.factories import user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_gbizid_button_logs_in_through_the_provider(
    live_server: Any, page: Any, provider: Provider, artifacts: Any
) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="GビズIDでログイン").click()  # → provider → callback → マイページ
    page.get_by_role("heading", name="マイページ").wait_for()
    assert page.url == live_server.url + "/mypage/"
    page.screenshot(path=str(artifacts / "oidc-login-mypage.png"), full_page=True)
    person = User.objects.get(email="gbiz@example.jp")
    assert ExternalIdentity.objects.get().user == person
    provider.deny = True  # a cancelled login comes back as a Japanese page
    page.context.clear_cookies()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="GビズIDでログイン").click()
    page.get_by_role("heading", name="GビズIDでログインできませんでした").wait_for()
    assert "許可されませんでした" in page.get_by_role("alert").inner_text()


def test_enabling_two_factor_and_the_two_step_login(
    live_server: Any, page: Any, browser: Any, totp: Totp, axe_source: str, artifacts: Any
) -> None:
    user("hanako@example.jp")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    page.get_by_label("パスワード").fill("correct horse battery")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="マイページ").wait_for()
    page.get_by_role("link", name="セキュリティ設定（2段階認証）").click()
    page.get_by_label("現在のパスワード").fill("correct horse battery")
    page.get_by_role("button", name="2段階認証を設定する").click()
    page.get_by_role("heading", name="2段階認証の設定").wait_for()
    qr = page.get_by_role("img", name="認証アプリで読み取るQRコード（設定キーと同じ内容）")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the data: SVG passes the CSP
    page.screenshot(path=str(artifacts / "totp-enable.png"), full_page=True)
    device = TOTPDevice.objects.get()
    page.get_by_label("確認コード（6桁）").fill(totp.code(device))
    page.get_by_role("button", name="確認して有効にする").click()
    page.get_by_role("heading", name="バックアップコード").wait_for()
    assert page.locator("ul.backup-codes li").count() == 10
    page.get_by_role("link", name="書き写したので、セキュリティ設定に戻る").click()
    page.get_by_role("heading", name="セキュリティ設定").wait_for()
    page.goto(live_server.url + "/mypage/")
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_url(live_server.url + "/")

    totp.tick()
    page.goto(live_server.url + "/accounts/login/?next=/mypage/")
    page.get_by_label("メールアドレス").fill("hanako@example.jp")
    page.get_by_label("パスワード").fill("correct horse battery")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="確認コードの入力").wait_for()
    axe_page = browser.new_context(
        locale="ja-JP", bypass_csp=True, storage_state=page.context.storage_state()
    )
    checked = axe_page.new_page()
    checked.goto(live_server.url + "/accounts/login/verify/")
    violations = axe_violations(checked, axe_source)
    axe_page.close()
    assert not violations, [(v["id"], v["help"]) for v in violations]
    page.goto(live_server.url + "/mypage/")  # not logged in yet
    page.get_by_role("heading", name="ログイン").wait_for()
    page.goto(live_server.url + "/accounts/login/verify/")
    page.get_by_label("確認コード").fill(totp.code(device))
    page.get_by_role("button", name="確認してログイン").click()
    page.get_by_role("heading", name="マイページ").wait_for()
    assert page.url == live_server.url + "/mypage/"
