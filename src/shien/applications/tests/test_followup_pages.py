"""The follow-up pages (test client and a real Chromium) and the iCalendar feeds of report windows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conftest import Clock, axe_violations
from django.test import Client
from icalendar import Calendar

from shien.accounts.models import Role, User
from shien.accounts.services import advisor_consent_grant
from shien.applications import views_followup
from shien.applications.models import Application, FollowUpReport
from shien.applications.tests.factories import organization, user
from shien.applications.tests.test_followup_programs import make_app
from shien.rules.registry import JST

# The personal feed /calendar/u/<token>.ics lives in shien.portal.urls; shien.web.urls routes it before
# the program calendars' calendar/<program>/<frame>.ics.

NOW = datetime(2025, 7, 1, 10, 0, tzinfo=JST)
PASSWORD = "correct horse battery"  # the factories' password  # noqa: S105
BASELINE = {"fiscal_year_end": "2024-03-31", "operating_profit_yen": "2,000万", "personnel_yen": "7,000万",
            "depreciation_yen": "10,000,000", "payroll_total_yen": "6000万", "min_wage_yen": "1,000",
            "employees": "20"}  # fmt: skip
YEAR1 = {
    "fiscal_year_end": "2025-03-31",
    "operating_profit_yen": "2,300万",
    "personnel_yen": "70,000,000",
    "depreciation_yen": "1000万",
    "payroll_total_yen": "60,900,000",
    "min_wage_yen": "1049",
    "employees": "21",
}  # fmt: skip  (付加価値額 1億300万円: met; 最低賃金 1,049円 < 1,020 + 30: missed)


@pytest.fixture(autouse=True)
def fixed_now(settings: Any, clock: Clock) -> None:
    clock.set(NOW)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def paid_monozukuri(owner: User, **kwargs: Any) -> Application:
    return make_app("monozukuri", owner, confirmed_yen=25_000_000, **kwargs)


@pytest.mark.django_db
def test_applicant_registers_the_baseline_and_reports_a_year(client: Client) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner)
    url = f"/applications/{app.pk}/followup/"
    client.force_login(owner)
    page = client.get(url).content.decode()
    assert "ものづくり補助金: 事業化状況報告" in page and "事業化状況報告（1年目）" in page
    assert "令和7年6月30日(月)（2025-06-30）" in page and "期限超過" in page  # 和暦 with 西暦, overdue
    assert "基準年度の数値を登録する" in page and "この内容で提出する" not in page  # the baseline comes first
    refused = client.post(f"{url}1/", YEAR1)
    assert refused.status_code == 400 and "先に基準年度" in refused.content.decode()

    response = client.post(f"{url}0/", BASELINE)
    assert response.status_code == 302 and response.url == f"{url}#report-0"
    base = FollowUpReport.objects.get(application=app, year=0)
    assert (base.operating_profit_yen, base.payroll_total_yen, base.employees) == (20_000_000, 60_000_000, 20)

    typo = client.post(f"{url}1/", YEAR1 | {"personnel_yen": "七千万"})
    body = typo.content.decode()
    assert typo.status_code == 422 and "七千万" in body and "金額を数字で入力してください" in body
    assert 'value="2,300万"' in body  # nothing the user typed is lost

    preview = client.post(f"{url}1/preview/", YEAR1, headers={"HX-Request": "true"}).content.decode()
    assert "103,000,000円" in preview and "提出前の確認" in preview
    assert not FollowUpReport.objects.filter(year=1).exists()

    response = client.post(f"{url}1/", YEAR1)
    assert response.status_code == 302 and response.url == f"{url}#report-1"
    page = client.get(url).content.decode()
    assert "103,000,000円" in page and "✓" in page and "✗" in page
    assert "返還額" in page and "5,000,000円" in page and "事業計画年数 5年 を返還" in page
    assert "unverified-mark" in page and "提出済み" in page
    again = client.post(f"{url}1/", YEAR1 | {"min_wage_yen": "1200"})  # a double click or a second tab
    assert again.status_code == 409 and "すでに提出されています" in again.content.decode()
    assert FollowUpReport.objects.filter(application=app).count() == 2
    assert FollowUpReport.objects.get(application=app, year=1).refund_yen == 5_000_000


@pytest.mark.django_db
def test_staff_read_everything_and_nobody_else_sees_anything(client: Client) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner)
    client.force_login(owner)
    client.post(f"/applications/{app.pk}/followup/0/", BASELINE)
    client.post(f"/applications/{app.pk}/followup/1/", YEAR1)
    url = f"/applications/{app.pk}/followup/"
    assert client.get("/applications/followups/").status_code == 404  # the office list is the staff's

    for role in (Role.SECRETARIAT, Role.BUREAU):
        staff = Client()
        staff.force_login(user(f"{role}@example.jp", role))
        page = staff.get(url).content.decode()
        assert "閲覧しています" in page and "5,000,000円" in page and "この内容で提出する" not in page
        assert staff.post(f"{url}2/", YEAR1).status_code == 404  # staff read, never submit
        listing = staff.get("/applications/followups/").content.decode()
        assert app.receipt_number in listing and "5,000,000円" in listing

    stranger = Client()
    stranger.force_login(user("x@example.jp"))
    assert stranger.get(url).status_code == 404
    assert stranger.post(f"{url}2/", YEAR1).status_code == 404
    assert stranger.get(f"/applications/{app.pk}/calendar.ics").status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


@pytest.mark.django_db
def test_the_overdue_list_names_the_program_and_frame(client: Client) -> None:
    app = paid_monozukuri(user("owner@example.jp"))  # nothing reported: year 1 is overdue on NOW
    client.force_login(user("secretariat@example.jp", Role.SECRETARIAT))
    page = client.get("/applications/followups/").content.decode()
    late = page[page.index("期限を過ぎた未提出の報告") : page.index("提出された報告")]
    assert app.receipt_number in late and "1年目" in late
    assert "<td>ものづくり補助金 省力化(オーダーメイド)枠</td>" in late
    assert f"{app.program}/{app.frame}" not in late


def _events(content: bytes) -> dict[str, Any]:
    cal = Calendar.from_ical(content)
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


@pytest.mark.django_db
def test_calendar_of_an_application(client: Client) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner)
    client.force_login(owner)
    response = client.get(f"/applications/{app.pk}/calendar.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    events = _events(response.content)
    prefix = f"shien-application-{app.pk}"
    assert set(events) == {f"{prefix}-results@shien", *(f"{prefix}-followup-{y}@shien" for y in range(1, 6))}
    first = events[f"{prefix}-followup-1@shien"]
    start = first.decoded("dtstart")
    assert start == datetime(2025, 6, 30, tzinfo=JST) and str(start.tzinfo) == "Asia/Tokyo"
    assert "事業化状況報告（1年目）" in str(first["summary"]) and "提出期間" in str(first["description"])
    assert [a.decoded("trigger") for a in first.walk("VALARM")] == [timedelta(days=-7), timedelta(days=-1)]
    results = events[f"{prefix}-results@shien"]
    assert "（提出済み）" in str(results["summary"]) and not results.walk("VALARM")
    assert b"BEGIN:VTIMEZONE" in response.content and b"TZID:Asia/Tokyo" in response.content
    assert set(_events(client.get(f"/applications/{app.pk}/calendar.ics").content)) == set(events)  # stable


@pytest.mark.django_db
def test_personal_feed_is_signed_and_lists_every_application_the_user_acts_for() -> None:
    advisor = user("advisor@example.jp", Role.ADVISOR)
    mine = []
    for number, email in enumerate(("a@example.jp", "b@example.jp"), 1):
        owner = user(email)
        org = organization(owner, name=f"事業者{number}")
        advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
        mine.append(make_app("jizokuka", owner, org=org, number=number))
    other = make_app("jizokuka", user("c@example.jp"), number=3)
    token = views_followup.calendar_token(advisor)
    anonymous = Client()
    response = anonymous.get(f"/calendar/u/{token}.ics")  # no session: a calendar app
    assert response.status_code == 200
    uids = set(_events(response.content))
    assert all(f"shien-application-{a.pk}-followup-1@shien" in uids for a in mine)
    assert not any(f"-{other.pk}-" in uid for uid in uids)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert anonymous.get(f"/calendar/u/{tampered}.ics").status_code == 404
    forged = views_followup.calendar_token(User.objects.get(email="c@example.jp")).split(":")
    assert anonymous.get(f"/calendar/u/{token.split(':')[0]}:{forged[1]}.ics").status_code == 404
    advisor.set_password("a new password 2025")
    advisor.save()
    assert anonymous.get(f"/calendar/u/{token}.ics").status_code == 404  # a new password revokes it
    assert anonymous.get(f"/calendar/u/{views_followup.calendar_token(advisor)}.ics").status_code == 200


def test_amounts_are_read_as_people_write_them() -> None:
    parse = views_followup.parse_amount
    assert [parse("1,234,000"), parse("123万"), parse("１２３万円"), parse("1.5万"), parse("")] == [
        1_234_000, 1_230_000, 1_230_000, 15_000, None]  # fmt: skip
    assert [parse("▲50万", negative=True), parse("-1,000", negative=True)] == [-500_000, -1000]
    for bad in ("▲50万", "abc", "1.5"):
        with pytest.raises(ValueError):
            parse(bad)


def accessible(browser: Any, page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core on the page's current URL, in a context with the same login that may inject axe (CSP)."""
    context = browser.new_context(locale="ja-JP", bypass_csp=True, storage_state=page.context.storage_state())
    checked = context.new_page()
    checked.goto(page.url)
    violations = axe_violations(checked, axe_source)
    context.close()
    return violations


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_applicant_reports_in_chromium(
    live_server: Any, browser: Any, page: Any, artifacts: Any, axe_source: str
) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner, paid_on=date(2025, 1, 31))
    page.goto(f"{live_server.url}/applications/{app.pk}/followup/")
    page.get_by_label("メールアドレス").fill(owner.email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="ものづくり補助金: 事業化状況報告").wait_for()
    assert accessible(browser, page, axe_source) == []
    for name, value in BASELINE.items():
        page.locator(f"#f0-{name}").fill(value)
    page.get_by_role("button", name="基準年度の数値を登録する").click()
    page.get_by_text("基準年度の数値を登録しました").wait_for()
    for name, value in YEAR1.items():
        page.locator(f"#f1-{name}").fill(value)
    page.locator("#preview-1").get_by_text(
        "103,000,000円", exact=True
    ).wait_for()  # htmx: computed before submitting
    page.get_by_role("button", name="この内容で提出する").click()
    page.get_by_text("事業化状況報告（1年目）を提出しました").wait_for()
    report = page.locator("#report-1")
    assert "✓" in report.inner_text() and "✗" in report.inner_text()
    assert "5,000,000円" in report.locator(".refund").inner_text()
    assert "付加価値額 103,000,000円" in report.inner_text()
    assert accessible(browser, page, axe_source) == []
    page.screenshot(path=str(artifacts / "followup-report.png"), full_page=True)


# -- QA: the 基準年度 form -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_baseline_year_ending_after_the_payment_is_refused_and_says_why(client: Client) -> None:
    """2030-03-31 was accepted, though after the years 1〜3 it is to be compared with, and then locked."""
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner, paid_on=date(2025, 1, 31))
    client.force_login(owner)
    url = f"/applications/{app.pk}/followup/"
    for late in ("2030-03-31", "2025-01-31"):  # year 1 is the first fiscal year ending on or after payment
        refused = client.post(f"{url}0/", BASELINE | {"fiscal_year_end": late})
        body = refused.content.decode()
        assert refused.status_code == 422, late
        assert (
            "基準年度の事業年度末は、支払日（令和7年1月31日(金)（2025-01-31））より前の日付を入力してください"
            in body
        )
        assert f'value="{late}"' in body and 'value="2,000万"' in body  # nothing typed is lost
        assert 'id="e0-fiscal_year_end"' in body  # and the message is at the field
    assert not FollowUpReport.objects.filter(application=app).exists()
    assert client.post(f"{url}0/", BASELINE | {"fiscal_year_end": "2025-01-30"}).status_code == 302


@pytest.mark.django_db
def test_before_payment_the_baseline_year_must_have_closed(client: Client, clock: Clock) -> None:
    from shien.applications.models import State

    clock.set(NOW)
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner, state=State.GRANTED)
    client.force_login(owner)
    url = f"/applications/{app.pk}/followup/0/"
    refused = client.post(url, BASELINE | {"fiscal_year_end": "2025-07-01"})  # NOW's day: not closed yet
    assert (
        refused.status_code == 422
        and "決算の済んだ事業年度の末日（本日より前の日付）" in refused.content.decode()
    )
    assert client.post(url, BASELINE | {"fiscal_year_end": "2025-03-31"}).status_code == 302


@pytest.mark.django_db
def test_sales_read_oku_like_every_amount_field(client: Client) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner)
    client.force_login(owner)
    response = client.post(
        f"/applications/{app.pk}/followup/0/", BASELINE | {"sales_yen": "5億", "personnel_yen": "0.7億"}
    )
    assert response.status_code == 302
    base = FollowUpReport.objects.get(application=app, year=0)
    assert (base.sales_yen, base.personnel_yen) == (500_000_000, 70_000_000)
    parse = views_followup.parse_amount
    assert [parse("5億"), parse("1.5億円"), parse("▲0.5億", negative=True)] == [
        500_000_000,
        150_000_000,
        -50_000_000,
    ]
    with pytest.raises(ValueError, match="大きすぎます"):
        parse("9" * 30)


@pytest.mark.django_db
def test_the_error_summary_lists_each_field_and_links_to_it(client: Client) -> None:
    owner = user("owner@example.jp")
    app = paid_monozukuri(owner)
    client.force_login(owner)
    typed = BASELINE | {"fiscal_year_end": "2024/13/40", "personnel_yen": "七千万", "min_wage_yen": ""}
    response = client.post(f"/applications/{app.pk}/followup/0/", typed)
    body = response.content.decode()
    assert response.status_code == 422
    summary = body[body.index('<div class="error-summary" role="alert">') :]
    summary = summary[: summary.index("</div>")]
    assert "入力内容を確認してください（3件）" in summary
    assert '<a href="#f0-fiscal_year_end">事業年度末: 日付で入力してください（例: 2025-03-31）</a>' in summary
    assert '<a href="#f0-personnel_yen">人件費: 金額を数字で入力してください' in summary
    assert '<a href="#f0-min_wage_yen">事業場内最低賃金（時給）を入力してください</a>' in summary
    assert body.count('role="alert"') == 1  # one summary, not one at the top and another in the form
    assert 'value="七千万"' in body and 'id="e0-personnel_yen"' in body
