"""The applicant's pages: timeline, available actions, 差戻し and resubmission, 交付申請, the 実績報告
ledger, 様式4 by a consented advisor, マイページ, and who may do what (test client, real database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import Clock
from django.test import Client

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import postaward, services, workflow
from shien.applications.models import Application, Attachment, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people, upload
from shien.core.models import AuditLog
from shien.rules.registry import JST
from shien.rules.text import wareki_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def test_the_timeline_shows_who_when_and_what_in_wareki_and_the_office_as_the_office(client: Client) -> None:
    owner, office = people()
    app = at_state(State.RETURNED, owner, office)
    client.force_login(owner)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    timeline = page[page.index("これまでの経過") :]
    assert (
        timeline.index("下書きを作成")
        < timeline.index("申請")
        < timeline.index("審査開始")
        < timeline.index("差戻し")
    )
    submitted = AuditLog.objects.get(object_id=str(app.pk), action="application.submit")
    assert (f"<strong>申請</strong>（受付番号 {app.receipt_number}） ・ {wareki_datetime(submitted.at)}"
            " ・ owner@example.jp") in timeline  # fmt: skip
    assert "事務局" in timeline and "office@example.jp" not in timeline  # the office, not the person
    # 差戻し: the message first, prominently; the draft is editable and can be resubmitted
    assert page.index("事務局から差し戻されました") < page.index("申請内容")
    assert "書類の不備" in page and "修正した内容で再申請する" in page and "入力は自動で保存されます" in page
    client.force_login(office)
    staff_view = client.get(f"/applications/{app.pk}/").content.decode()
    assert "事務局（office@example.jp）" in staff_view and "事務局の画面" in staff_view
    assert "入力は自動で保存されます" not in staff_view  # the office reads, it does not edit


def test_resubmission_after_return_keeps_the_receipt_number(client: Client) -> None:
    owner, office = people()
    app = at_state(State.RETURNED, owner, office)
    number = app.receipt_number
    client.force_login(owner)
    saved = client.post(f"/applications/{app.pk}/autosave/", {"version": str(app.version), "purposes": "labor_saving",
                        "e_machinery": "5,000万", "planned_wage": "1050", "va_cagr": "3", "pay_cagr": "1.5"},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert saved.status_code == 200
    assert client.post(f"/applications/{app.pk}/submit/").status_code == 302
    app.refresh_from_db()
    assert (app.state, app.receipt_number) == (State.SUBMITTED, number)
    assert "再申請" in client.get(f"/applications/{app.pk}/").content.decode()


def test_grant_request_after_adoption_once_even_when_clicked_twice(client: Client) -> None:
    owner, office = people()
    app = at_state(State.ADOPTED, owner, office)
    client.force_login(owner)
    assert "交付申請する" in client.get(f"/applications/{app.pk}/").content.decode()
    for _ in range(2):
        assert client.post(f"/applications/{app.pk}/grant-request/").status_code == 302
    app.refresh_from_db()
    assert app.state == State.GRANT_REQUESTED
    assert AuditLog.objects.filter(object_id=str(app.pk), action="application.request_grant").count() == 1
    client.force_login(office)
    refused = client.post(f"/applications/{app.pk}/grant-request/")
    assert refused.status_code == 403  # the office sees it, but 交付申請 is the applicant's


def test_the_ledger_reports_results_with_errors_per_row_in_japanese(client: Client) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    earlier = services.attachment_add(
        actor=owner, application=app, name="請求書.pdf", content=PDF + b"invoice"
    )
    client.force_login(owner)
    url = f"/applications/{app.pk}/report/"
    page = client.get(url).content.decode()
    assert "明細 1" in page and "機械装置・システム構築費" in page and "請求書.pdf" in page
    bad = client.post(url, {
        "rows": "3",
        "category-1": "machinery", "description-1": "組立ロボット", "amount-1": "5,000万",
        "file-1": upload("領収書.pdf", PDF + b"receipt"),
        "category-2": "", "description-2": "周辺装置", "amount-2": "八百万円", "evidence-2": "",
        "category-3": "machinery", "description-3": "", "amount-3": "", "evidence-3": "",
        "submit": "1",
    })  # fmt: skip
    text = bad.content.decode()
    assert bad.status_code == 422
    assert "2行目: 経費区分を選んでください" in text and "2行目: 金額は数字で入力してください" in text
    assert "2行目: 証憑" in text and "1行目" not in text  # row 1 is fine; row 3 (blank) is dropped
    receipt = Attachment.objects.get(application=app, name="領収書.pdf")  # kept despite the errors
    assert f'value="{receipt.sha256}" selected' in text and 'value="八百万円"' in text
    good = client.post(url, {
        "rows": "2",
        "category-1": "machinery", "description-1": "組立ロボット", "amount-1": "5,000万", "evidence-1": receipt.sha256,
        "category-2": "machinery", "description-2": "周辺装置", "amount-2": "8,000,000", "evidence-2": earlier.sha256,
        "submit": "1",
    })  # fmt: skip
    assert good.status_code == 302
    app.refresh_from_db()
    assert app.state == State.RESULTS_REPORTED
    assert sorted(app.expense_lines.values_list("amount_yen", flat=True)) == [8_000_000, 50_000_000]
    assert client.get(url).status_code == 302  # already reported: back to the application
    detail = client.get(f"/applications/{app.pk}/").content.decode()
    assert "実績報告の明細" in detail and "50,000,000円" in detail and "未検査" in detail


def test_the_ledger_adds_rows_without_losing_input(client: Client) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    client.force_login(owner)
    response = client.post(f"/applications/{app.pk}/report/", {
        "rows": "1", "category-1": "machinery", "description-1": "ロボット", "amount-1": "123万", "add_row": "1"})  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200 and 'value="ロボット"' in page and 'value="123万"' in page
    assert 'name="description-2"' in page and 'name="description-3"' in page
    app.refresh_from_db()
    assert app.state == State.GRANTED


def _selected_categories(page: str) -> dict[int, str]:
    """Row number → the category selected in that row of the ledger ("" when none)."""
    import re

    rows = {}
    for n, select in re.findall(r'<select id="category-(\d+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected>', select)
        rows[int(n)] = chosen.group(1) if chosen else ""
    return rows


def test_an_empty_ledger_comes_back_with_every_planned_category(client: Client) -> None:
    owner, office = people()
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": 50_000_000},
                                            {"category": "cloud", "amount_yen": 10_000_000}]}  # fmt: skip
    app = at_state(State.GRANTED, owner, office, plan=plan)
    client.force_login(owner)
    url = f"/applications/{app.pk}/report/"
    assert _selected_categories(client.get(url).content.decode()) == {1: "machinery", 2: "cloud", 3: ""}
    # submitted as shown: only the planned categories, nothing typed
    empty = client.post(url, {"rows": "3", "category-1": "machinery", "category-2": "cloud", "category-3": "",
                              "submit": "1"})  # fmt: skip
    page = empty.content.decode()
    assert empty.status_code == 422 and "経費の明細を1行以上入力してください" in page
    assert _selected_categories(page) == {1: "machinery", 2: "cloud", 3: ""}
    # even when the browser sent no category at all, the planned rows are offered again
    bare = client.post(url, {"rows": "3", "submit": "1"})
    assert _selected_categories(bare.content.decode()) == {1: "machinery", 2: "cloud", 3: ""}
    # what the user typed comes first, then the planned categories it does not cover
    typed = client.post(url, {"rows": "3", "category-1": "", "category-2": "", "category-3": "machinery",
                              "description-3": "組立ロボット", "amount-3": "5,000万", "submit": "1"})  # fmt: skip
    page = typed.content.decode()
    assert typed.status_code == 422 and "1行目: 証憑" in page and 'value="組立ロボット"' in page
    assert _selected_categories(page) == {1: "machinery", 2: "cloud", 3: ""}
    added = client.post(url, {"rows": "3", "category-1": "machinery", "category-2": "cloud", "add_row": "1"})
    assert _selected_categories(added.content.decode()) == {1: "machinery", 2: "cloud", 3: ""}
    app.refresh_from_db()
    assert app.state == State.GRANTED


def test_a_refusal_links_back_to_the_application(client: Client) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    client.force_login(owner)
    refused = client.get(f"/applications/{app.pk}/report/")
    page = refused.content.decode()
    assert refused.status_code == 409 and "実績報告できません" in page
    assert f'<a href="/applications/{app.pk}/">申請へ戻る</a>' in page
    client.force_login(office)
    refused = client.post(f"/applications/{app.pk}/withdraw/", {"reason": "x", "step": "withdraw"})
    assert (
        refused.status_code == 403
        and f'<a href="/applications/{app.pk}/">申請へ戻る</a>' in refused.content.decode()
    )
    client.force_login(owner)
    no_app = client.post("/applications/new/", {"organization": "0", "frame": "monozukuri/shoryokuka"})
    # a business one may not act for is the same 404 as one that does not exist (core.errors: not_found)
    assert no_app.status_code == 404 and "申請へ戻る" not in no_app.content.decode()


def test_a_late_report_is_warned_about_and_flagged_for_the_office(client: Client, clock: Clock) -> None:
    owner, office = people()
    advisor = user("shokokai@example.jp", Role.ADVISOR)
    org = organization(owner, industry="小売業", employees=3)
    app = services.application_create(actor=owner, organization=org, program="jizokuka", frame="tsujo", plan={
        "purposes": ["sales_channel"], "expenses": [{"category": "advertising", "amount_yen": 900_000}]})  # fmt: skip
    advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    services.form4_issue(actor=advisor, application=app, at=datetime(2024, 3, 1, 10, 0, tzinfo=JST))
    app = services.application_submit(
        actor=owner, application=app, at=datetime(2024, 3, 14, 10, 0, tzinfo=JST)
    )
    for step in ("start_review", "adopt"):
        app = workflow.transition(actor=office, application=app, action_name=step)
    app = postaward.grant_request(actor=owner, application=app)
    app = postaward.grant_decide(actor=office, application=app, granted_yen=500_000)
    client.force_login(owner)
    url = f"/applications/{app.pk}/report/"
    page = client.get(url).content.decode()
    assert "令和6年11月10日(日)（2024-11-10）" in page and "期限を過ぎています" not in page
    clock.set(datetime(2024, 11, 11, 9, 0, tzinfo=JST))
    page = client.get(url).content.decode()
    assert "期限を過ぎています" in page and "事務局が判断します" in page
    proof = services.attachment_add(actor=owner, application=app, name="チラシ請求書.pdf", content=PDF)
    response = client.post(url, {"rows": "1", "category-1": "advertising", "description-1": "チラシ",
                                 "amount-1": "90万", "evidence-1": proof.sha256, "submit": "1"})  # fmt: skip
    assert response.status_code == 302
    audit = AuditLog.objects.get(object_id=str(app.pk), action="application.report_results")
    assert audit.data["late"] is True and audit.data["report_deadline"] == "2024-11-10"


def test_form4_is_issued_by_the_consented_advisor_from_mypage_and_shown_to_the_applicant(
    client: Client, clock: Clock
) -> None:
    clock.set(datetime(2024, 3, 1, 10, 0, tzinfo=JST))  # before 3/7 17:00
    owner, advisor = user("o@example.jp"), user("shokokai@example.jp", Role.ADVISOR)
    org = organization(owner, industry="小売業", employees=3)
    app = services.application_create(actor=owner, organization=org, program="jizokuka", frame="tsujo",
                                      plan={"purposes": ["sales_channel"]})  # fmt: skip
    client.force_login(owner)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert "事業支援計画書（様式4）が必要です" in page and "令和6年3月7日(木) 17:00（2024-03-07）" in page
    assert "様式4を交付する" not in page
    client.force_login(advisor)
    assert client.get(f"/applications/{app.pk}/").status_code == 404  # no consent yet
    assert client.post(f"/applications/{app.pk}/form4/", {"comment": "x"}).status_code == 404
    advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    mypage = client.get("/mypage/").content.decode()
    assert (
        "様式4の交付を待っている持続化補助金の申請" in mypage and f"/applications/{app.pk}/#form4" in mypage
    )
    assert "様式4を交付する" in client.get(f"/applications/{app.pk}/").content.decode()
    for _ in range(2):  # a double click issues one
        assert (
            client.post(
                f"/applications/{app.pk}/form4/", {"comment": "販路開拓の計画を確認しました"}
            ).status_code
            == 302
        )
    assert AuditLog.objects.filter(action="form4.issue").count() == 1
    assert "様式4の交付を待っている" not in client.get("/mypage/").content.decode()
    client.force_login(owner)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert "様式4 交付済み（shokokai@example.jp、令和6年3月1日(金) 10:00（2024-03-01））" in page
    assert "販路開拓の計画を確認しました" in page
    assert client.post(f"/applications/{app.pk}/form4/", {"comment": "自分で"}).status_code == 403


def test_mypage_lists_drafts_applications_by_state_and_returned_ones(client: Client) -> None:
    owner, office = people()
    draft = at_state(State.DRAFT, owner, office)
    returned = at_state(State.RETURNED, owner, office)
    granted = at_state(State.GRANTED, owner, office)
    other = at_state(State.ADOPTED, user("someone@example.jp"), office)
    client.force_login(owner)
    page = client.get("/mypage/").content.decode()
    drafts = page[page.index("作成中の申請") : page.index("申請の状況")]
    assert f"/applications/{draft.pk}/" in drafts and f"/applications/{returned.pk}/" in drafts
    assert "差戻し（修正して再申請）" in drafts
    states = page[page.index("申請の状況") : page.index("保存した診断結果")]
    assert "交付決定（1件）" in states and granted.receipt_number in states
    assert other.receipt_number not in page


def test_other_businesses_applications_are_404_and_reviewers_and_vendors_cannot_act(client: Client) -> None:
    owner, office = people()
    app = at_state(State.GRANTED, owner, office)
    adopted = at_state(State.ADOPTED, user("o2@example.jp"), office)
    urls = [f"/applications/{app.pk}/report/", f"/applications/{app.pk}/withdraw/",
            f"/applications/{app.pk}/changes/new/", f"/applications/{app.pk}/form4/",
            f"/applications/{adopted.pk}/grant-request/"]  # fmt: skip
    for who in (user("stranger@example.jp"), user("vendor@example.jp", Role.VENDOR),
                user("reviewer@example.jp", Role.REVIEWER)):  # fmt: skip
        client.force_login(who)
        for url in urls:
            assert client.get(url).status_code in (404, 405), url
            assert client.post(url, {"step": "withdraw", "reason": "x"}).status_code == 404, url
    from shien.applications import review

    reviewer = user("assigned@example.jp", Role.REVIEWER)
    submitted = at_state(State.SUBMITTED, user("o3@example.jp"), office)
    review.review_assign(actor=office, application=submitted, reviewer=reviewer)
    client.force_login(reviewer)
    page = client.get(f"/applications/{submitted.pk}/").content.decode()
    assert "いまこの申請についてできる手続はありません" in page
    assert (
        client.post(
            f"/applications/{submitted.pk}/withdraw/", {"step": "withdraw", "reason": "x"}
        ).status_code
        == 403
    )
    client.post(f"/applications/{submitted.pk}/submit/")
    submitted.refresh_from_db()
    assert submitted.state == State.SUBMITTED


def test_an_expired_session_gets_a_403_for_autosave_and_the_login_page_without_javascript(
    client: Client,
) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    response = client.post(
        f"/applications/{app.pk}/autosave/", {"version": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403 and "ログインの有効期限が切れた" in response.content.decode()
    plain = client.post(f"/applications/{app.pk}/autosave/", {"version": "1"})
    assert plain.status_code == 302 and plain.url.startswith("/accounts/login/")


def test_the_form_keeps_what_it_does_not_show_and_saves_without_javascript(client: Client) -> None:
    owner, office = people()
    plan = {**MONOZUKURI_PLAN, "business": {"min_hourly_wage_yen": 1000, "operating_margin_decline": True},
            "commitments": {**MONOZUKURI_PLAN["commitments"], "planned_employees": 35}}  # fmt: skip
    app = at_state(State.DRAFT, owner, office, plan=plan)
    client.force_login(owner)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert 'id="min_wage" name="min_wage" inputmode="numeric" value="1000"' in page
    response = client.post(f"/applications/{app.pk}/autosave/", {"version": "1", "purposes": "labor_saving",
                           "e_machinery": "6000万", "min_wage": "1,010", "deficit": "no"})  # fmt: skip
    assert response.status_code == 302 and response.url == f"/applications/{app.pk}/"
    app.refresh_from_db()
    assert app.plan["business"] == {
        "min_hourly_wage_yen": 1010,
        "operating_margin_decline": True,
        "deficit": False,
    }
    assert app.plan["commitments"]["planned_employees"] == 35
    assert "planned_min_hourly_wage_yen" not in app.plan["commitments"]  # cleared on the form: cleared


def test_a_double_click_on_create_makes_one_draft(client: Client) -> None:
    owner, _ = people()
    org = organization(owner)
    client.force_login(owner)
    page = client.get("/mypage/").content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"organization": org.pk, "frame": "monozukuri/shoryokuka", "idempotency_key": key}
    first, second = client.post("/applications/new/", form), client.post("/applications/new/", form)
    assert first.url == second.url and Application.objects.count() == 1
    other = client.post("/applications/new/", {**form, "frame": "monozukuri/kofukakachi"})
    assert other.url != first.url and Application.objects.count() == 2
    assert client.post("/applications/new/", {**form, "idempotency_key": ""}).url != first.url


def test_application_pages_are_never_cached(client: Client) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    granted = at_state(State.GRANTED, owner, office)
    client.force_login(owner)
    responses = {
        "detail": client.get(f"/applications/{app.pk}/"),
        "withdraw": client.get(f"/applications/{app.pk}/withdraw/"),
        "withdraw confirm": client.post(
            f"/applications/{app.pk}/withdraw/", {"step": "confirm", "reason": "見直し"}
        ),
        "report": client.get(f"/applications/{granted.pk}/report/"),
        "change": client.get(f"/applications/{granted.pk}/changes/new/"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
    done = client.post(f"/applications/{app.pk}/withdraw/", {"step": "withdraw", "reason": "見直し"})
    assert done.status_code == 302 and "no-store" in done["Cache-Control"]
    staff = Client()
    staff.force_login(user("bureau@example.jp", Role.BUREAU))
    assert "no-store" in staff.get(f"/applications/{app.pk}/").get("Cache-Control", "")
