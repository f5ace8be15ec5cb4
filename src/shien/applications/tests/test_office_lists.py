"""The office's home and lists: pending changes, exports and round names (and the queries they take)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from shien.accounts.models import Role, User
from shien.applications import changes, office
from shien.applications.models import Application, ChangeRequest, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, body, granted, organization, user
from shien.rules.registry import JST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("office_day")]


AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)


SMALLER = {
    **MONOZUKURI_PLAN,
    "expenses": [{"category": "machinery", "amount_yen": 30_000_000}],
}  # 15,000,000円


def test_a_pending_change_shows_on_the_application_and_on_the_office_home(
    client: Client, secretariat: User
) -> None:
    owner = user("o@example.jp")
    app = granted(owner, secretariat, AT)
    other = granted(user("o2@example.jp"), secretariat, AT)  # nothing pending
    client.force_login(secretariat)
    url = f"/office/applications/{app.pk}/"
    assert "事務局が行う操作はありません" in body(client.get(url))
    home = body(client.get("/office/"))
    assert "計画変更（承認待ち）" in home and "承認待ちの計画変更はありません" in home

    change = changes.change_request(actor=owner, application=app, plan=SMALLER, reason="見積りが下がった")
    decide = f"/applications/{app.pk}/changes/{change.pk}/"
    page = body(client.get(url))
    assert "計画変更（承認待ち）" in page and decide in page and "見積りが下がった" in page
    assert "15,000,000円" in page and "事務局が行う操作はありません" not in page
    assert decide not in body(client.get(f"/office/applications/{other.pk}/"))
    response = client.get("/office/")
    home = body(response)
    assert response.context["changes_count"] == 1 and "1件の計画変更が事務局の判断を待っています" in home
    assert decide in home and app.receipt_number in home
    assert client.get("/office/?program=jizokuka").context["changes_count"] == 0  # the filters apply

    bureau = Client()
    bureau.force_login(user("b@example.jp", Role.BUREAU))
    assert "計画変更の内容を見る" in body(bureau.get(url)) and decide in body(bureau.get("/office/"))

    changes.change_decide(actor=secretariat, change=change, approve=True, note="承認")
    assert ChangeRequest.objects.get(pk=change.pk).status == ChangeRequest.Status.APPROVED
    assert "承認待ちの計画変更はありません" in body(client.get("/office/"))
    assert decide not in body(client.get(url))


def test_the_home_lists_pending_changes_in_constant_queries(client: Client, secretariat: User) -> None:
    owners = [user(f"o{i}@example.jp") for i in range(3)]
    apps = [granted(o, secretariat, AT) for o in owners]
    changes.change_request(actor=owners[0], application=apps[0], plan=SMALLER, reason="理由")
    client.force_login(secretariat)
    with CaptureQueriesContext(connection) as one:
        client.get("/office/")
    for o, a in zip(owners[1:], apps[1:], strict=True):
        changes.change_request(actor=o, application=a, plan=SMALLER, reason="理由")
    with CaptureQueriesContext(connection) as three:
        response = client.get("/office/")
    assert response.context["changes_count"] == 3
    assert len(three) == len(one)


def test_exports_name_the_round_and_give_the_time_in_jst_to_the_second(
    client: Client, secretariat: User
) -> None:
    owner = user("bulk@example.jp")
    org = organization(owner, name="=1+2 株式会社")
    moment = datetime(2026, 11, 24, 2, 13, 37, 123456, tzinfo=UTC)  # 11:13:37.123456 JST
    Application.objects.bulk_create([
        Application(organization=org, program="shoryokuka", frame="catalog", round_id="joji", state=State.SUBMITTED,
                    receipt_number="SHORYOKUKA-joji-000001", estimate_yen=1, submitted_at=moment, created_by=owner),
        Application(organization=org, program="monozukuri", frame="shoryokuka", round_id="demo", state=State.SUBMITTED,
                    receipt_number="MONOZUKURI-demo-000001", estimate_yen=2, submitted_at=moment - timedelta(days=1),
                    created_by=owner),
    ])  # fmt: skip
    client.force_login(secretariat)
    raw = b"".join(client.get("/office/applications/export.csv").streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    by_number = {r[0]: r for r in rows[1:]}
    joji, demo = by_number["SHORYOKUKA-joji-000001"], by_number["MONOZUKURI-demo-000001"]
    assert joji[5] == "常時受付（第2回以降、令和8年度まで15回程度）"  # the registry's name, not "joji"
    assert demo[5] == "demo"  # a round the registry does not know keeps its id
    assert joji[7] == "2026-11-24T11:13:37+09:00" and demo[7] == "2026-11-23T11:13:37+09:00"
    assert joji[1] == "'=1+2 株式会社"  # still never a formula

    content = b"".join(client.get("/office/applications/export.xlsx").streaming_content)
    sheet = load_workbook(io.BytesIO(content))["申請一覧"]
    values = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["SHORYOKUKA-joji-000001"][5] == "常時受付（第2回以降、令和8年度まで15回程度）"
    assert values["SHORYOKUKA-joji-000001"][7] == "2026-11-24T11:13:37+09:00"
    assert sheet["B2"].data_type == "s"


def test_export_time_format() -> None:
    assert office.export_time(None) == ""
    assert (
        office.export_time(datetime(2024, 3, 26, 10, 0, 0, 999_999, tzinfo=JST))
        == "2024-03-26T10:00:00+09:00"
    )
    assert office.export_time(datetime(2024, 12, 31, 15, 0, tzinfo=UTC)) == "2025-01-01T00:00:00+09:00"


def test_round_names_do_not_add_queries_per_round(client: Client, secretariat: User) -> None:
    owner = user("bulk@example.jp")
    org = organization(owner, name="大量申請")

    def add(round_id: str, n: int) -> None:
        Application.objects.bulk_create(
            Application(organization=org, program="monozukuri", frame="shoryokuka", round_id=round_id,
                        state=State.SUBMITTED, receipt_number=f"M-{round_id}-{i}", submitted_at=AT,
                        created_by=owner) for i in range(n)
        )  # fmt: skip

    add("18", 5)
    client.force_login(secretariat)
    with CaptureQueriesContext(connection) as few:
        b"".join(client.get("/office/applications/export.csv").streaming_content)
    add("17", 5)
    add("x", 5)
    with CaptureQueriesContext(connection) as more:
        b"".join(client.get("/office/applications/export.csv").streaming_content)
    assert len(more) == len(few)
