"""Public program pages, feeds, calendars and downloads (at a fixed moment)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from conftest import Clock
from defusedxml import ElementTree
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar
from openpyxl import load_workbook

from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 20, 10, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def fixed_time(clock: Clock) -> None:
    clock.set(AT)


def get(client: Client, url: str, max_queries: int = 1, **headers: str) -> Any:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    assert len(queries) <= max_queries, (url, [q["sql"] for q in queries])
    return response


def test_every_page_answers_with_a_bounded_number_of_queries(client: Client) -> None:
    for url in [
        "/",
        "/programs/",
        "/programs/monozukuri/",
        "/programs/digital_amoeba/",
        "/schedule/",
        "/compare/",
        "/shindan/",
        "/feeds/news.atom",
        "/calendar/deadlines.ics",
        "/programs.csv",
        "/programs.xlsx",
    ]:
        get(client, url)


def test_home_shows_what_is_open_and_days_left(client: Client) -> None:
    body = get(client, "/").content.decode()
    assert "受付中（締切が近い順）" in body
    assert "18次公募（全枠）" in body and "あと7日" in body  # 3/20 → 3/27


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("audience=small", "持続化補助金", "マナビDX_"),
        ("audience=municipality", "マナビDX", "ものづくり補助金"),
        ("purpose=succession", "事業承継・引継ぎ補助金", "ものづくり補助金"),
        ("open=1", "ものづくり補助金", "持続化補助金"),
        ("q=インボイス", "IT導入補助金", "事業承継・引継ぎ補助金"),
        ("prefecture=島根県", "島根県でも利用できる全国の制度", "条件に合う制度はありません"),
    ],
)
def test_filters(client: Client, query: str, present: str, absent: str) -> None:
    body = get(client, f"/programs/?{query}").content.decode()
    assert present in body
    assert absent not in body


def test_filter_with_htmx_returns_only_the_results(client: Client) -> None:
    body = get(client, "/programs/?purpose=invoice", HX_Request="true").content.decode()
    assert body.lstrip().startswith('<div id="results"') and "<html" not in body


def test_program_page_has_caps_rates_rounds_steps_contact_and_sources(client: Client) -> None:
    body = get(client, "/programs/monozukuri/").content.decode()
    for text in (
        "8,000万円",
        "1億円",
        "補助金額1,500万円を超える部分は1/3",
        "付加価値額",
        "機械装置・システム構築費",
        "令和6年3月27日(水) 17:00（2024-03-27）",
        "GビズID",
        "5年間毎年",
        "082-224-5680",
        "unverified-mark",
        "従業員区分の境界",
    ):
        assert text in body, text


def test_non_grant_pages(client: Client) -> None:
    body = get(client, "/programs/digital_amoeba/").content.decode()
    assert "テックサポーター" in body and "bzl-digital-group@meti.go.jp" in body
    assert "委託事業" in get(client, "/programs/case_mobility/").content.decode()


def test_unknown_program_is_404(client: Client) -> None:
    assert client.get("/programs/nope/").status_code == 404


def test_schedule_is_in_deadline_order_with_a_calendar(client: Client) -> None:
    body = get(client, "/schedule/").content.decode()
    assert "受付期間のカレンダー" in body and body.count('class="on') >= 20
    assert body.index("令和6年2月") < body.index("令和6年3月") < body.index("令和6年4月")


def test_compare_two_frames_side_by_side(client: Client) -> None:
    body = get(client, "/compare/?a=monozukuri/shoryokuka&b=shoryokuka/catalog").content.decode()
    assert "8,000万円" in body and "1,500万円" in body and body.count('class="terms"') == 2


def test_atom_feed_has_news_and_rounds(client: Client) -> None:
    from django.core.management import call_command

    call_command("load_demo")
    response = get(client, "/feeds/news.atom")
    root = ElementTree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert any("18次公募" in t for t in titles) and any("デジタルアメーバ" in t for t in titles)


def test_icalendar_deadlines(client: Client) -> None:
    cal = Calendar.from_ical(get(client, "/calendar/deadlines.ics").content)
    events = [e for e in cal.walk("VEVENT")]
    deadline = next(e for e in events if str(e["uid"]) == "monozukuri/18-deadline@shien")
    assert deadline.decoded("dtstart").isoformat() == "2024-03-27T17:00:00+09:00"
    assert len(list(deadline.walk("VALARM"))) == 2
    frame = Calendar.from_ical(get(client, "/calendar/it_donyu/invoice.ics").content)
    names = [str(e["summary"]) for e in frame.walk("VEVENT")]
    assert names and all("インボイス" in n for n in names)
    assert client.get("/calendar/it_donyu/nope.ics").status_code == 404


def test_csv_and_excel_downloads(client: Client) -> None:
    text = get(client, "/programs.csv").content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "制度" and any(r[3] == "shoryokuka" and r[10] == "受付中" for r in rows[1:])
    book = load_workbook(io.BytesIO(get(client, "/programs.xlsx").content))
    sheet = book["制度一覧"]
    assert sheet["A1"].value == "制度" and sheet.max_row == len(rows)


@pytest.mark.parametrize("url", ["/programs/", "/programs/monozukuri/", "/schedule/"])
def test_a_cached_public_page_is_never_one_built_for_a_signed_in_user(url: str) -> None:
    """The per-minute page cache is shared by visitors who are not signed in only: a signed-in user's
    header (お知らせ, their home, the logout form with their CSRF token) never reaches anyone else, and
    they never get a visitor's header."""
    from shien.applications.tests.factories import user

    visitor, member = Client(), Client()
    member.force_login(user("member@example.jp"))
    for first, second in ((member, visitor), (visitor, member)):
        first.get(url)
        html = second.get(url).content.decode()
        header = html.split("</header>")[0]
        if second is visitor:
            assert "ログイン" in header and "logout" not in header and "csrfmiddlewaretoken" not in html
        else:
            assert "マイページ" in header and 'action="/accounts/logout/"' in header
