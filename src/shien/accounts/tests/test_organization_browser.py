"""The organization page in a real headless Chromium: the 代表者 reaches it from マイページ, adds a 担当者
(an unknown address is refused in Japanese and kept in the field), grants an advisor consent and revokes
it after the confirmation question; a 担当者 corrects the facts (a bad 法人番号 keeps what was typed);
the page and the form pass axe-core (no serious or critical WCAG 2.x A/AA violation)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import axe_violations
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from shien.accounts.models import AdvisorConsent, Membership, Organization, Role, UserRole
from shien.applications.tests.factories import organization, user
from shien.core.models import AuditLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
PASSWORD = "correct horse battery"  # the factories' password
ORG_NAME = "広島精機株式会社"


@pytest.fixture
def world() -> dict[str, Any]:
    owner = user("owner@example.jp")
    org = organization(owner, name=ORG_NAME)
    staff = user("staff@example.jp")
    Membership.objects.create(user=staff, organization=org, kind=Membership.Kind.MEMBER)
    newcomer = user("tanto@example.jp")
    advisor = user("advisor@example.jp", Role.ADVISOR)
    advisor.name = "支援 花子"
    advisor.save(update_fields=["name"])
    UserRole.objects.filter(user=advisor).update(affiliation="広島商工会議所")
    return {"owner": owner, "org": org, "staff": staff, "newcomer": newcomer, "advisor": advisor}


def log_in_with_the_form(page: Any, live_server: Any, email: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="マイページ", exact=True).wait_for()
    assert page.url == live_server.url + "/mypage/"


def test_the_owner_invites_a_member_and_grants_then_revokes_an_advisors_consent(
    live_server: Any, page: Any, world: dict[str, Any], artifacts: Any
) -> None:
    org, owner, advisor = world["org"], world["owner"], world["advisor"]
    log_in_with_the_form(page, live_server, owner.email)
    page.get_by_role("link", name=ORG_NAME, exact=True).click()
    page.get_by_role("heading", name=ORG_NAME, exact=True, level=1).wait_for()
    assert page.url == f"{live_server.url}/organizations/{org.pk}/"
    expect(page.get_by_text("同意している支援者はいません。")).to_be_visible()

    member_email = page.get_by_role("textbox", name="メールアドレス 必須", exact=True)
    member_kind = page.get_by_label("役割", exact=True)
    # a malformed address: refused in Japanese, and what was typed stays in the field
    member_email.fill("tanto@")
    page.get_by_role("button", name="招待を送る", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("メールアドレスの形式が正しくありません")
    expect(member_email).to_have_value("tanto@")
    expect(member_kind).to_have_value("member")

    member_email.fill("Tanto@Example.jp")  # the address as the person wrote it down
    member_kind.select_option(label="担当者")
    page.get_by_role("button", name="招待を送る", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("tanto@example.jp に担当者としての招待を送りました")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("listitem").filter(has_text="tanto@example.jp（担当者")).to_be_visible()
    expect(member_email).to_have_value("")
    assert not Membership.objects.filter(organization=org, user__email="tanto@example.jp").exists()

    page.get_by_role("textbox", name="支援者のメールアドレス 必須", exact=True).fill("advisor@example.jp")
    page.get_by_role("button", name="この支援者に同意する", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "支援 花子 さんが代わりに申請・報告できるよう同意しました"
    )
    consents_table = page.get_by_role("table", name="支援者への同意")
    consent_row = consents_table.get_by_role("row").filter(has_text="支援 花子")
    expect(consent_row).to_contain_text("広島商工会議所")
    expect(consent_row.get_by_role("cell").nth(3)).to_have_text("同意中")
    page.screenshot(path=str(artifacts / "organization-consent-granted.png"), full_page=True)
    consent = AdvisorConsent.objects.get(organization=org, advisor=advisor)
    assert consent.revoked_at is None and consent.granted_by == owner

    # the first click only asks; nothing is revoked yet
    consent_row.get_by_role("button", name="同意を取り消す").click()
    question = page.get_by_role("alert")
    expect(question).to_contain_text(
        "支援 花子 さんへの同意を取り消しますか？取り消すと、この事業者の申請を操作できなくなります。"
    )
    expect(question.get_by_role("link", name="やめる")).to_have_attribute("href", f"/organizations/{org.pk}/")
    assert AdvisorConsent.objects.get(pk=consent.pk).revoked_at is None
    page.screenshot(path=str(artifacts / "organization-consent-revoke-question.png"), full_page=True)
    question.get_by_role("button", name="同意を取り消す").click()
    expect(page.get_by_role("status")).to_have_text("支援 花子 さんへの同意を取り消しました")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert page.url == f"{live_server.url}/organizations/{org.pk}/"
    consent_row = (
        page.get_by_role("table", name="支援者への同意").get_by_role("row").filter(has_text="支援 花子")
    )
    expect(consent_row.get_by_role("cell").nth(3)).to_contain_text("取消し（")
    expect(consent_row.get_by_role("button", name="同意を取り消す")).to_have_count(0)

    consent.refresh_from_db()
    assert consent.revoked_at is not None
    assert not AdvisorConsent.objects.filter(organization=org, revoked_at=None).exists()
    # the invited person logs in, accepts on マイページ and lands on the business's page as 担当者
    page.context.clear_cookies()
    log_in_with_the_form(page, live_server, "tanto@example.jp")
    invitation = page.get_by_role("listitem").filter(has_text=f"{ORG_NAME}（広島県）から担当者としての招待")
    invitation.get_by_role("button", name="承諾する").click()
    page.get_by_role("heading", name=ORG_NAME, exact=True, level=1).wait_for()
    expect(page.get_by_role("status")).to_have_text(f"{ORG_NAME} の担当者になりました")
    assert set(Membership.objects.filter(organization=org).values_list("user__email", "kind")) == {
        ("owner@example.jp", Membership.Kind.OWNER),
        ("staff@example.jp", Membership.Kind.MEMBER),
        ("tanto@example.jp", Membership.Kind.MEMBER),
    }
    assert [a.action for a in AuditLog.objects.filter(action__in=[
        "invitation.create", "advisor_consent.grant", "advisor_consent.revoke", "invitation.accepted",
        "membership.add"]).order_by("pk")] == [
        "invitation.create", "advisor_consent.grant", "advisor_consent.revoke", "invitation.accepted",
        "membership.add"]  # fmt: skip


def test_a_member_corrects_the_facts_a_bad_corporate_number_keeps_what_was_typed(
    live_server: Any, page: Any, world: dict[str, Any], artifacts: Any
) -> None:
    org = world["org"]
    log_in_with_the_form(page, live_server, world["staff"].email)
    page.get_by_role("link", name=ORG_NAME, exact=True).click()
    page.get_by_role("heading", name=ORG_NAME, exact=True, level=1).wait_for()
    # a 担当者 reads the consents but neither grants nor revokes
    expect(page.get_by_role("button", name="この支援者に同意する")).to_have_count(0)
    page.get_by_role("link", name="事業者の情報を変更する").click()
    page.get_by_role("heading", name="事業者の情報を変更", exact=True).wait_for()
    assert page.url == f"{live_server.url}/organizations/{org.pk}/edit/"
    employees = page.get_by_label("常時使用する従業員数")
    capital = page.get_by_label("資本金（円）")
    number = page.get_by_label("法人番号（13桁、個人事業主は空欄）")
    expect(employees).to_have_value("30")  # the current facts
    employees.fill("45")
    capital.fill("20000000")
    page.get_by_label("所在地（都道府県）").select_option("岡山県")
    number.fill("1234567890123")  # 13 digits, but a wrong check digit
    page.get_by_role("button", name="保存する", exact=True).click()
    # the refusal is shown at the 法人番号 field, which is marked invalid and described by it
    summary = page.locator(".error-summary")  # listed above the form and focused: in view on a phone
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="法人番号", exact=False).click()
    expect(number).to_be_focused()
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(number).to_have_accessible_description(
        "法人番号のチェックディジット（先頭の1桁）が正しくありません"
    )
    page.get_by_role("heading", name="事業者の情報を変更", exact=True).wait_for()
    expect(employees).to_have_value("45")
    expect(capital).to_have_value("20000000")
    expect(page.get_by_label("所在地（都道府県）")).to_have_value("岡山県")
    expect(page.get_by_label("事業者名")).to_have_value(ORG_NAME)
    expect(number).to_have_value("1234567890123")
    page.screenshot(path=str(artifacts / "organization-edit-bad-number.png"), full_page=True)
    org.refresh_from_db()
    assert (org.employees, org.corporate_number, org.prefecture) == (30, "", "広島県")

    number.fill("5835678256246")
    page.get_by_role("button", name="保存する", exact=True).click()
    page.get_by_role("heading", name=ORG_NAME, exact=True, level=1).wait_for()
    assert page.url.split("#")[0] == f"{live_server.url}/organizations/{org.pk}/"
    expect(page.get_by_role("status")).to_have_text("事業者の情報を保存しました")
    facts = page.locator("dl.facts")
    expect(facts.locator("dt:has-text('常時使用する従業員数') + dd")).to_have_text("45人")
    expect(facts.locator("dt:has-text('法人番号') + dd")).to_have_text("5835678256246")
    expect(facts.locator("dt:has-text('所在地') + dd")).to_have_text("岡山県")
    org.refresh_from_db()
    assert (org.employees, org.capital_yen, org.corporate_number, org.prefecture) == (
        45,
        20_000_000,
        "5835678256246",
        "岡山県",
    )
    changed = AuditLog.objects.get(action="organization.update").data["changed"]
    assert set(changed) == {"employees", "capital_yen", "corporate_number", "prefecture"}
    assert Organization.objects.count() == 1


def test_the_organization_page_and_the_form_pass_axe(
    live_server: Any, browser: Any, world: dict[str, Any], axe_source: str
) -> None:
    org, owner, advisor = world["org"], world["owner"], world["advisor"]
    AdvisorConsent.objects.create(organization=org, advisor=advisor, granted_by=owner)
    client = Client()
    client.force_login(owner)
    context = browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", bypass_csp=True
    )  # to inject axe-core
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value}])  # fmt: skip
    page = context.new_page()

    def check(what: str) -> None:
        violations = axe_violations(page, axe_source)
        assert not violations, (what, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations])

    try:
        page.goto(f"{live_server.url}/organizations/{org.pk}/")
        page.get_by_role("table", name="支援者への同意").wait_for()
        check("the page, with members and a consent")
        row = page.get_by_role("row").filter(has_text="支援 花子")
        row.get_by_role("button", name="同意を取り消す").click()
        page.get_by_role("alert").wait_for()
        check("the page asking to confirm")
        page.get_by_role("textbox", name="メールアドレス 必須", exact=True).fill("nobody@")
        page.get_by_role("button", name="招待を送る", exact=True).click()
        page.get_by_role("alert").wait_for()
        check("the page with a refusal")
        page.goto(f"{live_server.url}/organizations/{org.pk}/edit/")
        page.get_by_role("heading", name="事業者の情報を変更", exact=True).wait_for()
        check("the form")
        page.get_by_label("常時使用する従業員数").fill("-1")
        page.get_by_label("法人番号（13桁、個人事業主は空欄）").fill("1234567890123")
        page.get_by_role("button", name="保存する", exact=True).click()
        page.locator(".field.invalid").first.wait_for()
        expect(page.get_by_label("常時使用する従業員数")).to_have_attribute("aria-invalid", "true")
        check("the form with errors")
    finally:
        context.close()
