"""Saved 診断: 「この結果を保存」 (one record per identical answers) and 「この枠で申請を作成」, whose draft is
prefilled from the saved profile while the organization's own facts come from the organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import Clock
from django.test import Client

from shien.applications import services
from shien.applications.models import Application
from shien.applications.tests.factories import organization, user
from shien.navigator.models import SavedDiagnosis
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
ANSWERS = {"industry": "製造業", "employees": "50", "capital_man": "10000", "prefecture": "岡山県",
           "min_wage": "1000", "planned_wage": "1050", "deficit": "no", "labor_shortage": "yes",
           "purposes": "labor_saving", "e_machinery": "6000万", "e_advertising": "100万"}  # fmt: skip
RESULT = "/shindan/result/?" + urlencode({**ANSWERS, "as_of": "2024-03-20"})


@pytest.fixture(autouse=True)
def frozen(clock: Clock) -> None:
    clock.set(datetime(2024, 3, 20, 10, 0, tzinfo=JST))


def _key(page: str) -> str:
    return page.split('name="idempotency_key" value="')[1].split('"')[0]


def test_anonymous_visitors_are_offered_a_login_and_nothing_is_stored(client: Client) -> None:
    page = client.get(RESULT).content.decode()
    assert (
        "ログイン</a>すると、この結果を保存して" in page
        and "この結果を保存" not in page.split("ログイン</a>すると")[0]
    )
    assert client.post("/applications/diagnoses/save/", ANSWERS).status_code == 302  # to the login page
    assert not SavedDiagnosis.objects.exists()


def test_saving_the_same_answers_twice_keeps_one_record(client: Client) -> None:
    owner = user("o@example.jp")
    client.force_login(owner)
    page = client.get(RESULT).content.decode()
    assert "この結果を保存" in page
    for _ in range(2):
        response = client.post("/applications/diagnoses/save/", {**ANSWERS, "as_of": "2024-03-20"})
        assert response.status_code == 302 and response.url.startswith("/shindan/result/?")
    saved = SavedDiagnosis.objects.get()
    assert saved.user == owner and saved.answers["e_machinery"] == "6000万"
    assert saved.profile["plan"]["expenses"][0] == {"category": "machinery", "amount_yen": 60_000_000}
    assert "as_of" not in saved.answers and "as_of" not in saved.profile
    page = client.get(RESULT).content.decode()
    assert "この結果は保存済みです" in page
    client.post("/applications/diagnoses/save/", {**ANSWERS, "e_machinery": "5000万"})
    assert SavedDiagnosis.objects.count() == 2  # different answers: another record
    mypage = client.get("/mypage/").content.decode()
    assert mypage.count("結果を見る") == 2
    bad = client.post("/applications/diagnoses/save/", {**ANSWERS, "employees": "たくさん"})
    assert bad.status_code == 400 and SavedDiagnosis.objects.count() == 2


def test_apply_from_the_result_prefills_the_plan_and_takes_the_organizations_own_facts(
    client: Client, clock: Clock
) -> None:
    owner = user("o@example.jp")
    org = organization(owner)  # 広島県・製造業・30人・1,000万円
    client.force_login(owner)
    page = client.get(RESULT).content.decode()
    assert "この枠で申請を作成" in page and "株式会社テスト製作所" in page
    form = {
        **ANSWERS,
        "frame": "monozukuri/shoryokuka",
        "organization": org.pk,
        "idempotency_key": _key(page),
    }
    first = client.post("/applications/diagnoses/apply/", form)
    second = client.post("/applications/diagnoses/apply/", form)  # a double click
    app = Application.objects.get()
    assert first.url == second.url == f"/applications/{app.pk}/"
    assert SavedDiagnosis.objects.count() == 1  # saved on the way, once
    assert app.plan["purposes"] == ["labor_saving"]
    assert app.plan["expenses"] == [
        {"category": "machinery", "amount_yen": 60_000_000}
    ]  # not the frame's: dropped
    assert app.plan["commitments"]["planned_min_hourly_wage_yen"] == 1050
    assert app.plan["business"] == {"min_hourly_wage_yen": 1000, "deficit": False, "labor_shortage": True}
    profile = services.profile_for(app, clock.now())
    assert (profile.business.prefecture, profile.business.employees) == ("広島県", 30)  # the organization's
    assert app.estimate_yen == 25_000_000
    detail = client.get(first.url).content.decode()
    assert (
        'value="60000000"' in detail
        and 'id="labor_shortage-yes" name="labor_shortage" value="yes" checked' in detail
    )


def test_apply_from_a_saved_result_on_mypage(client: Client) -> None:
    owner, stranger = user("o@example.jp"), user("x@example.jp")
    org = organization(owner)
    client.force_login(owner)
    client.post("/applications/diagnoses/save/", ANSWERS)
    saved = SavedDiagnosis.objects.get()
    page = client.get("/mypage/").content.decode()
    section = page[page.index("保存した診断結果") :]
    assert "申請を作成" in section and 'value="monozukuri/shoryokuka"' in section
    response = client.post(f"/applications/diagnoses/{saved.pk}/apply/", {
        "frame": "monozukuri/shoryokuka", "organization": org.pk, "idempotency_key": _key(page)})  # fmt: skip
    app = Application.objects.get()
    assert response.url == f"/applications/{app.pk}/" and app.plan["expenses"][0]["amount_yen"] == 60_000_000
    client.force_login(stranger)  # someone else's saved result, someone else's organization
    assert client.post(f"/applications/diagnoses/{saved.pk}/apply/", {
        "frame": "monozukuri/shoryokuka", "organization": org.pk}).status_code == 404  # fmt: skip
    mine = client.post("/applications/diagnoses/save/", ANSWERS)
    assert mine.status_code == 302
    theirs = SavedDiagnosis.objects.get(user=stranger)
    refused = client.post(f"/applications/diagnoses/{theirs.pk}/apply/", {
        "frame": "monozukuri/shoryokuka", "organization": org.pk})  # fmt: skip
    # an organization one may not act for: the same 404 as one that does not exist (core.errors: not_found)
    assert refused.status_code == 404 and Application.objects.count() == 1
    client.post(f"/applications/diagnoses/{saved.pk}/delete/")  # not theirs: nothing happens
    assert SavedDiagnosis.objects.filter(pk=saved.pk).exists()
    client.force_login(owner)
    assert client.post(f"/applications/diagnoses/{saved.pk}/delete/").status_code == 302
    assert not SavedDiagnosis.objects.filter(pk=saved.pk).exists()


def test_the_prefill_service_keeps_only_what_the_frame_takes() -> None:
    profile = {"business": {"industry": "製造業", "employees": 50, "prefecture": "東京都", "capital_yen": 1,
                            "was_tax_exempt": True, "deficit": None},
               "plan": {"purposes": ["labor_saving", "sales_channel"],
                        "expenses": [{"category": "machinery", "amount_yen": 1}, {"category": "website", "amount_yen": 2}],
                        "commitments": {"wage_increase_special": True, "planned_min_hourly_wage_yen": None}}}  # fmt: skip
    plan = services.plan_from_profile(profile, "monozukuri", "shoryokuka")
    assert plan == {"purposes": ["labor_saving"], "expenses": [{"category": "machinery", "amount_yen": 1}],
                    "commitments": {"wage_increase_special": True}, "business": {"was_tax_exempt": True}}  # fmt: skip


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_chromium_save_the_result_then_apply_for_a_frame(
    live_server: Any, browser: Any, axe_source: str, artifacts: Any
) -> None:
    from conftest import axe_violations
    from django.conf import settings

    owner = user("o@example.jp")
    organization(owner)
    client = Client()
    client.force_login(owner)
    context = browser.new_context(
        locale="ja-JP", timezone_id="Asia/Tokyo", bypass_csp=True
    )  # to inject axe-core
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])  # fmt: skip
    page = context.new_page()
    page.goto(live_server.url + RESULT)
    page.get_by_role("button", name="この結果を保存").click()
    page.get_by_text("この結果は保存済みです").wait_for()
    assert "as_of=2024-03-20" in page.url  # the 判定日 is kept
    page.screenshot(path=str(artifacts / "shindan-result-signed-in.png"), full_page=True)
    violations = axe_violations(page, axe_source)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
    first = page.locator("section.result").first
    assert "ものづくり補助金 省力化(オーダーメイド)枠" in first.inner_text()
    first.get_by_role("button", name="この枠で申請を作成").click()
    page.get_by_text("診断結果の内容で申請の下書きを作成しました").wait_for()
    assert page.get_by_label("機械装置・システム構築費").input_value() == "60000000"
    assert page.get_by_label("計画する事業場内最低賃金（時給・円）").input_value() == "1050"
    page.goto(live_server.url + "/mypage/")
    page.get_by_role("heading", name="保存した診断結果").wait_for()
    page.screenshot(path=str(artifacts / "mypage-applicant.png"), full_page=True)
    violations = axe_violations(page, axe_source)
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in violations]
    context.close()
    assert SavedDiagnosis.objects.count() == 1 and Application.objects.count() == 1
