"""The back office on the real database: queues, search, exports, round figures, adoption within the
budget, one application's actions (assign, review, return, adopt, grant, inspection, payment),
attachments, the reviewers' pages, and who sees what."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from stdnum.jp import cn

from shien.accounts.models import Role, User
from shien.accounts.services import advisor_consent_grant
from shien.applications import office, postaward, review, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, ReviewAssignment, RoundBudget, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, body, granted, organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST
from shien.rules.text import parse_yen

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)
PDF = minimal_pdf("書類")  # a real one-page PDF (pypdf reads attachments)
SCORES = ("technology", "commercialization", "policy")


@pytest.fixture(autouse=True)
def setup(settings: Any, tmp_path: Any, clock: Clock) -> None:
    clock.set(AT)
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def corporate(n: int) -> str:
    base = f"{n:012d}"
    return cn.calc_check_digit(base) + base


def draft(name: str, amount: int, *, number: str = "") -> Application:
    owner = user(f"{name}@example.jp")
    org = organization(owner, name=name, corporate_number=number)
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": amount}]}
    return services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=plan
    )


def submitted(name: str, amount: int, *, number: str = "", at: datetime = AT) -> Application:
    app = draft(name, amount, number=number)
    return services.application_submit(actor=owner_of(app), application=app, at=at)


def owner_of(app: Application) -> User:
    return app.organization.memberships.get().user


def scored(secretariat: User, app: Application, points: dict[User, int]) -> Application:
    """Start the review (if not yet) and have each reviewer score `points` on every rubric item."""
    if app.state == State.SUBMITTED:
        app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    for reviewer, p in points.items():
        a = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
        review.review_declare_conflict(actor=reviewer, assignment_id=a.pk, conflict=False)
        review.review_score(actor=reviewer, assignment_id=a.pk, scores=dict.fromkeys(SCORES, p))
    return app


def login(client: Client, who: User) -> Client:
    client.force_login(who)
    return client


@pytest.fixture
def staff() -> dict[str, User]:
    return {
        "secretariat": user("s@example.jp", Role.SECRETARIAT),
        "bureau": user("b@example.jp", Role.BUREAU),
        "r1": user("r1@example.jp", Role.REVIEWER),
        "r2": user("r2@example.jp", Role.REVIEWER),
        "r3": user("r3@example.jp", Role.REVIEWER),
    }


@pytest.fixture
def round18(staff: dict[str, User]) -> dict[str, Application]:
    """monozukuri 18次: three scored applications (A 27点, B 21点, C 16.5点 with a conflicted third
    reviewer), one just submitted, one rejected, one returned, and a draft that never reaches the office."""
    s, r1, r2, r3 = staff["secretariat"], staff["r1"], staff["r2"], staff["r3"]
    apps = {
        "A": scored(s, submitted("A精機", 40_000_000), {r1: 9, r2: 9}),  # 18,333,333円
        "B": scored(s, submitted("B工業", 60_000_000), {r1: 7, r2: 7}),  # 25,000,000円
        "C": scored(s, submitted("C製作所", 10_000_000), {r1: 5, r2: 6}),  # 5,000,000円
        "D": submitted("D商店", 20_000_000, number=corporate(1234)),
        "E": submitted("E電機", 20_000_000),
        "F": submitted("F化学", 20_000_000),
        "draft": draft("下書き社", 20_000_000),
    }
    conflicted = review.review_assign(actor=s, application=apps["C"], reviewer=r3)
    review.review_declare_conflict(actor=r3, assignment_id=conflicted.pk, conflict=True, reason="取引先")
    apps["E"] = workflow.transition(actor=s, application=apps["E"], action_name="start_review")
    apps["E"] = workflow.transition(actor=s, application=apps["E"], action_name="reject", reason="要件外")
    apps["F"] = workflow.transition(actor=s, application=apps["F"], action_name="return", reason="添付不足")
    return apps


# -- the figures of a round -------------------------------------------------------------------------------------


def test_round_figures_are_exact(staff: dict[str, User], round18: dict[str, Application]) -> None:
    s = staff["secretariat"]
    figures = office.round_figures("monozukuri", "18")
    counts = {c["state"]: c["count"] for c in figures.by_state}
    assert counts == {"submitted": 1, "returned": 1, "under_review": 3, "adopted": 0, "rejected": 1,
                      "grant_requested": 0, "granted": 0, "results_reported": 0, "confirmed": 0, "paid": 0,
                      "withdrawn": 0}  # fmt: skip
    assert (figures.submitted, figures.adopted, figures.adoption_rate_text) == (6, 0, "0.0%")
    assert [(r.application.pk, r.average, r.reviews, r.average_text) for r in figures.ranking] == [
        (round18["A"].pk, 27, 2, "27.00"),
        (round18["B"].pk, 21, 2, "21.00"),
        (round18["C"].pk, Fraction(33, 2), 2, "16.50"),  # the conflicted reviewer does not count
    ]
    assert figures.ranking_estimate_yen == 18_333_333 + 25_000_000 + 5_000_000
    assert figures.budget is None and figures.remaining_yen is None and not figures.over_budget

    office.round_budget_set(actor=s, program="monozukuri", round_id="18", budget_yen=30_000_000)
    figures = office.round_figures("monozukuri", "18")
    assert [r.adopt for r in figures.ranking] == [True, False, True]  # B does not fit, C still does
    assert figures.preview_yen == 23_333_333
    result = office.adopt_confirmed(
        actor=s, program="monozukuri", round_id="18", confirmed=[round18["A"].pk, round18["C"].pk]
    )
    assert [a.pk for a in result.adopted] == [round18["A"].pk, round18["C"].pk]

    a = workflow.transition(
        actor=owner_of(round18["A"]), application=round18["A"], action_name="request_grant"
    )
    postaward.grant_decide(actor=s, application=a, granted_yen=18_000_000)
    figures = office.round_figures("monozukuri", "18")
    assert (figures.submitted, figures.adopted, figures.adoption_rate_text) == (6, 2, "33.3%")
    assert figures.adoption_rate == Fraction(1, 3)
    assert (figures.granted_yen, figures.pending_yen, figures.remaining_yen) == (
        18_000_000,
        5_000_000,
        7_000_000,
    )
    office.round_budget_set(actor=s, program="monozukuri", round_id="18", budget_yen=20_000_000)
    figures = office.round_figures("monozukuri", "18")
    assert figures.over_budget and figures.over_yen == 3_000_000
    assert RoundBudget.objects.count() == 1
    assert list(
        AuditLog.objects.filter(action="round_budget.set").order_by("id").values_list("data", flat=True)
    ) == [
        {"program": "monozukuri", "round": "18", "from": None, "to": 30_000_000},
        {"program": "monozukuri", "round": "18", "from": 30_000_000, "to": 20_000_000},
    ]


def test_dashboard_page_and_adoption_within_the_budget_through_the_ui(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    login(client, staff["secretariat"])
    url = "/office/rounds/monozukuri/18/"
    page = body(client.get(url))
    assert "申請件数" in page and "6件" in page and "未設定" in page and "16.50" in page
    assert "予算内で採択するには、先に予算額を設定してください" in page
    assert client.get(url + "adopt/").status_code == 200  # the confirmation says a budget is needed
    bad = client.post(url + "budget/", {"budget_yen": "三千万"})
    assert bad.status_code == 422 and "数字で入力" in body(bad) and 'value="三千万"' in body(bad)
    assert client.post(url + "budget/", {"budget_yen": "3,000万"}).status_code == 302
    assert RoundBudget.objects.get().budget_yen == 30_000_000
    page = body(client.get(url))
    assert "30,000,000円" in page and "予算内で採択" in page

    confirm = client.get(url + "adopt/")
    text = body(confirm)
    assert "2件を採択する" in text and "23,333,333円" in text and "見送り（予算外）" in text
    assert confirm.context["figures"].preview[0].application == round18["A"]
    ids = {"application": [str(round18["A"].pk), str(round18["C"].pk)]}
    assert Application.objects.filter(state=State.ADOPTED).count() == 0  # nothing happens on the GET
    done = client.post(url + "adopt/", ids, follow=True)
    assert "2件を採択しました" in body(done)
    states = dict(Application.objects.values_list("pk", "state"))
    assert states[round18["A"].pk] == states[round18["C"].pk] == State.ADOPTED
    assert states[round18["B"].pk] == State.UNDER_REVIEW
    again = client.post(url + "adopt/", ids, follow=True)  # a double click
    assert "すでに反映されています" in body(again)
    assert AuditLog.objects.filter(action="application.adopt").count() == 2
    assert AuditLog.objects.filter(action="round.adopt_within_budget").count() == 1
    page = body(client.get(url))
    assert "採択件数" in page and "33.3%" in page and "6,666,667円" in page


def test_adoption_refuses_when_the_ranking_changed_after_the_confirmation(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    s = staff["secretariat"]
    office.round_budget_set(actor=s, program="monozukuri", round_id="18", budget_yen=30_000_000)
    login(client, s)
    confirmed = [
        a.application.pk for a in client.get("/office/rounds/monozukuri/18/adopt/").context["figures"].preview
    ]
    # meanwhile B's reviewers raise it to the top: B (25,000,000円) then C (5,000,000円) fill the budget
    for reviewer in (staff["r1"], staff["r2"]):
        assignment = ReviewAssignment.objects.get(application=round18["B"], reviewer=reviewer)
        review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=dict.fromkeys(SCORES, 10))
    refused = client.post("/office/rounds/monozukuri/18/adopt/", {"application": confirmed})
    assert refused.status_code == 409 and "もう一度確認してください" in body(refused)
    assert not Application.objects.filter(state=State.ADOPTED).exists()
    assert refused.context["figures"].preview[0].application == round18["B"]  # the fresh preview
    assert "2件を採択する" in body(refused) and "30,000,000円" in body(refused)
    with pytest.raises(DomainError, match="採択する権限"):
        office.adopt_confirmed(
            actor=staff["bureau"], program="monozukuri", round_id="18", confirmed=confirmed
        )


def test_bureau_sees_the_dashboard_read_only(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    office.round_budget_set(actor=staff["secretariat"], program="monozukuri", round_id="18", budget_yen=1)
    login(client, staff["bureau"])
    page = body(client.get("/office/rounds/monozukuri/18/"))
    assert "27.00" in page and "予算額を設定する" not in page and "/adopt/" not in page
    assert "閲覧のみ" in page
    assert client.post("/office/rounds/monozukuri/18/budget/", {"budget_yen": "5"}).status_code == 403
    assert client.get("/office/rounds/monozukuri/18/adopt/").status_code == 403
    assert client.get("/office/rounds/monozukuri/99/").status_code == 404
    assert client.get("/office/rounds/nothing/18/").status_code == 404
    assert RoundBudget.objects.get().budget_yen == 1


# -- queues, search and exports -------------------------------------------------------------------------------------


def test_home_counts_states_and_links_to_the_queues(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    login(client, staff["secretariat"])
    response = client.get("/office/")
    counts = {c["state"]: c["count"] for c in response.context["counts"]}
    assert counts["under_review"] == 3 and counts["submitted"] == 1 and "draft" not in counts
    assert "/office/applications/?state=under_review" in body(response)
    assert "/office/rounds/monozukuri/18/" in body(response)
    filtered = client.get("/office/?program=jizokuka")
    assert sum(c["count"] for c in filtered.context["counts"]) == 0


def test_search_by_number_name_corporate_number_state_and_round(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    login(client, staff["secretariat"])

    def found(query: str) -> list[str]:
        response = client.get("/office/applications/?" + query)
        assert response.status_code == 200
        return [a.organization.name for a in response.context["page"].object_list]

    assert len(found("")) == 6  # every submitted application, never the draft
    assert found(f"q={round18['D'].receipt_number}") == ["D商店"]
    assert found("q=000002") == ["B工業"]  # a part of the receipt number
    assert found("q=精機") == ["A精機"]
    number = corporate(1234)
    assert found(f"q={number[:4]}-{number[4:]}") == ["D商店"]  # with a hyphen
    assert found("q=" + number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))) == ["D商店"]
    assert sorted(found("state=under_review")) == ["A精機", "B工業", "C製作所"]
    assert found("program=monozukuri&round=17") == []
    assert found("state=bogus") == found("")  # an unknown state is no filter
    page = body(client.get(f"/office/applications/?q={round18['A'].receipt_number}"))
    assert "令和6年3月26日(火) 10:00（2024-03-26）" in page and "18,333,333円" in page and "審査中" in page


def test_sorting_and_pages(client: Client, staff: dict[str, User]) -> None:
    owner = user("bulk@example.jp")
    org = organization(owner, name="大量申請")
    Application.objects.bulk_create(
        Application(organization=org, program="monozukuri", frame="shoryokuka", round_id="18",
                    state=State.SUBMITTED, receipt_number=f"MONOZUKURI-18-{i:06d}", estimate_yen=i,
                    submitted_at=AT + timedelta(minutes=i), created_by=owner)
        for i in range(1, 61)
    )  # fmt: skip
    login(client, staff["secretariat"])
    first = client.get("/office/applications/")
    numbers = [a.receipt_number for a in first.context["page"].object_list]
    assert len(numbers) == 50 and numbers[0] == "MONOZUKURI-18-000060"  # newest first
    assert "page=2" in body(first) and "（1 / 2ページ）" in body(first)
    second = client.get("/office/applications/?page=2")
    assert [a.receipt_number for a in second.context["page"].object_list][-1] == "MONOZUKURI-18-000001"
    oldest = client.get("/office/applications/?sort=submitted_at")
    assert oldest.context["page"].object_list[0].receipt_number == "MONOZUKURI-18-000001"
    partial = client.get("/office/applications/?sort=submitted_at", headers={"HX-Request": "true"})
    assert body(partial).startswith('<div id="results"') and "<html" not in body(partial)


def test_exports_parse_back_with_the_same_columns(
    client: Client, staff: dict[str, User], round18: dict[str, Application]
) -> None:
    login(client, staff["secretariat"])
    response = client.get("/office/applications/export.csv?state=under_review&sort=submitted_at")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="shien-applications.csv"' in response["Content-Disposition"]
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == office.EXPORT_HEADER
    a = round18["A"]
    assert rows[1] == [a.receipt_number, "A精機", "", "ものづくり補助金", rows[1][4], "18次公募（全枠）", "審査中",
                       "2024-03-26T10:00:00+09:00", "令和6年3月26日(火) 10:00（2024-03-26）", "18333333", "", "", ""]  # fmt: skip
    assert "省力化" in rows[1][4]
    assert [r[1] for r in rows[1:]] == ["A精機", "B工業", "C製作所"]

    book = load_workbook(io.BytesIO(b"".join(client.get(
        "/office/applications/export.xlsx?state=under_review&sort=submitted_at").streaming_content)))  # fmt: skip
    sheet = book["申請一覧"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert list(values[0]) == office.EXPORT_HEADER
    assert values[1][0] == a.receipt_number and values[1][9] == 18_333_333 and isinstance(values[1][9], int)
    assert values[1][7] == "2024-03-26T10:00:00+09:00"  # ISO 8601 in JST: Excel has no time zones
    assert [r[1] for r in values[1:]] == ["A精機", "B工業", "C製作所"]
    assert list(values[1][1:7]) == ["A精機", None, rows[1][3], rows[1][4], "18次公募（全枠）", "審査中"]


def test_exports_never_turn_an_applicants_text_into_a_formula(client: Client, staff: dict[str, User]) -> None:
    submitted('=HYPERLINK("http://example.com","x")', 20_000_000)
    login(client, staff["secretariat"])
    raw = b"".join(client.get("/office/applications/export.csv").streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(raw)))[1][1] == '\'=HYPERLINK("http://example.com","x")'
    content = b"".join(client.get("/office/applications/export.xlsx").streaming_content)
    cell = load_workbook(io.BytesIO(content))["申請一覧"]["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://example.com","x")', "s")


def test_export_of_ten_thousand_rows_reads_in_constant_queries(
    client: Client, staff: dict[str, User]
) -> None:
    owner = user("bulk@example.jp")
    org = organization(owner, name="大量申請", corporate_number=corporate(99))
    Application.objects.bulk_create(
        (Application(organization=org, program="monozukuri", frame="shoryokuka", round_id="18", state=State.GRANTED,
                     receipt_number=f"MONOZUKURI-18-{i:06d}", estimate_yen=10_000_000 + i, granted_yen=9_000_000,
                     submitted_at=AT, created_by=owner) for i in range(10_000)), batch_size=2000,
    )  # fmt: skip
    login(client, staff["secretariat"])
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/office/applications/export.csv")
        lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 10_001 and lines[1].endswith(",9000000,,")
    assert len(queries) <= 8  # session, user, roles, and the rows in chunks: not one per application
    assert time.monotonic() - started < 10


# -- one application: actions, inspection, payment, attachments ------------------------------------------------------


def test_secretariat_assigns_starts_returns_and_rejects_with_messages(
    client: Client, staff: dict[str, User]
) -> None:
    s = staff["secretariat"]
    app = submitted("G社", 20_000_000)
    login(client, s)
    url = f"/office/applications/{app.pk}/"
    page = body(client.get(url))
    assert "審査を開始する" in page and "差し戻す" in page and "採択する" not in page
    assert client.post(url + "assign/", {"reviewer": staff["r1"].pk}).status_code == 302
    client.post(url + "assign/", {"reviewer": staff["r1"].pk})  # a double click: one assignment
    assert ReviewAssignment.objects.filter(application=app).count() == 1
    related = user("adv@example.jp", Role.ADVISOR, Role.REVIEWER)
    advisor_consent_grant(actor=owner_of(app), organization=app.organization, advisor=related)
    refused = client.post(url + "assign/", {"reviewer": related.pk})
    assert refused.status_code == 409 and "関係者のため割り当てられません" in body(refused)
    assert client.post(url + "act/start_review/").status_code == 302
    again = client.post(url + "act/start_review/", follow=True)
    assert "すでに反映されています" in body(again)
    assert AuditLog.objects.filter(action="application.start_review").count() == 1
    missing = client.post(url + "act/return/", {"form": "return", "reason": "  "})
    assert missing.status_code == 422 and "「差戻し」の理由を入力してください" in body(missing)
    typed = client.post(url + "act/reject/", {"form": "reject", "reason": ""})
    assert typed.status_code == 422
    returned = client.post(
        url + "act/return/", {"form": "return", "reason": "見積書を添付してください"}, follow=True
    )
    assert "「差戻し」しました" in body(returned) and "見積書を添付してください" in body(
        returned
    )  # in the history
    assert Application.objects.get(pk=app.pk).state == State.RETURNED
    wrong = client.post(url + "act/adopt/")
    assert wrong.status_code == 409 and "「差戻し」の申請は「採択」できません" in body(wrong)
    assert client.post(url + "act/withdraw/").status_code == 404


def test_grant_decision_defaults_to_the_estimate_and_keeps_a_wrong_amount(
    client: Client, staff: dict[str, User]
) -> None:
    s = staff["secretariat"]
    app = scored(s, submitted("H社", 40_000_000), {staff["r1"]: 8})
    app = workflow.transition(actor=s, application=app, action_name="adopt")
    app = workflow.transition(actor=owner_of(app), application=app, action_name="request_grant")
    login(client, s)
    url = f"/office/applications/{app.pk}/"
    assert 'value="18,333,333"' in body(client.get(url))
    too_much = client.post(url + "grant/", {"granted_yen": "2,000万"})
    assert too_much.status_code == 422 and "以下にしてください" in body(too_much)
    assert 'value="2,000万"' in body(too_much)
    assert client.post(url + "grant/", {"granted_yen": "18,000,000"}).status_code == 302
    again = client.post(url + "grant/", {"granted_yen": "18,000,000"}, follow=True)
    assert "すでに反映されています" in body(again)
    different = client.post(url + "grant/", {"granted_yen": "17,000,000"})  # not a repeat: refused
    assert different.status_code == 409 and "「交付決定」の申請は「交付決定」できません" in body(different)
    app.refresh_from_db()
    assert (app.state, app.granted_yen) == (State.GRANTED, 18_000_000)


def test_inspection_then_payment_through_the_ui(client: Client, staff: dict[str, User], clock: Clock) -> None:
    s = staff["secretariat"]
    owner = user("o@example.jp")
    app = granted(owner, s, AT)
    robot = services.attachment_add(actor=owner, application=app, name="請求書.pdf", content=PDF + b"a")
    extra = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=PDF + b"b")
    app = postaward.results_report(actor=owner, application=app, lines=[
        {"category": "machinery", "description": "組立ロボット", "amount_yen": 50_000_000, "evidence_sha256": robot.sha256},
        {"category": "machinery", "description": "周辺装置", "amount_yen": 8_000_000, "evidence_sha256": extra.sha256},
    ])  # fmt: skip
    lines = {line.description: line.pk for line in app.expense_lines.all()}
    login(client, s)
    url = f"/office/applications/{app.pk}/"
    page = body(client.get(url))
    assert (
        "確定検査を終えて額を確定する" in page
        and f"/office/applications/{app.pk}/attachments/{robot.pk}/" in page
    )
    half = client.post(url + "inspect/", {
        f"decision_{lines['組立ロボット']}": "accept", f"note_{lines['組立ロボット']}": "確認済み",
        f"decision_{lines['周辺装置']}": "reject",
    })  # fmt: skip
    assert half.status_code == 422 and "2行目: 認めない理由を入力してください" in body(half)
    assert 'value="確認済み"' in body(half) and f'id="reject-{lines["周辺装置"]}" name' in body(half)
    assert Application.objects.get(pk=app.pk).state == State.RESULTS_REPORTED
    decisions = {
        f"decision_{lines['組立ロボット']}": "accept",
        f"decision_{lines['周辺装置']}": "reject", f"note_{lines['周辺装置']}": "交付決定前の発注",
    }  # fmt: skip
    done = client.post(url + "inspect/", decisions, follow=True)
    text = body(done)
    assert "21,666,666円 に確定しました" in text and "確定額の計算" in text and "50,000,000円" in text
    assert done.context["explanation"]["trace"]
    again = client.post(url + "inspect/", decisions, follow=True)
    assert "すでに反映されています" in body(again)
    clock.set(datetime(2025, 2, 3, 10, 0, tzinfo=JST))  # the payment is entered days after it was made
    assert client.post(url + "payment/", {"paid_on": "2025/01/31"}).status_code == 422
    assert client.post(url + "payment/", {"paid_on": "2025-01-31"}).status_code == 302
    client.post(url + "payment/", {"paid_on": "2025-01-31"})
    app.refresh_from_db()
    assert (app.state, app.confirmed_yen, app.paid_on) == (State.PAID, 21_666_666, date(2025, 1, 31))
    assert AuditLog.objects.filter(action="application.record_payment").count() == 1
    history = [
        h["label"] for h in client.get(url).context["history"] if h["action"].startswith("application.")
    ]
    assert history[-4:] == ["交付決定", "実績報告", "額の確定（確定検査）", "支払"]


def test_attachments_stream_with_their_type_and_are_refused_when_tampered(
    client: Client, staff: dict[str, User], settings: Any
) -> None:
    app = draft("I社", 20_000_000)
    content = minimal_pdf("事業計画" * 1000)
    attachment = services.attachment_add(
        actor=owner_of(app), application=app, name="事業計画書.pdf", content=content
    )
    app = services.application_submit(actor=owner_of(app), application=app, at=AT)
    login(client, staff["bureau"])
    url = f"/office/applications/{app.pk}/attachments/{attachment.pk}/"
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert (
        "attachment" in response["Content-Disposition"]
        and "%E4%BA%8B%E6%A5%AD" in response["Content-Disposition"]
    )
    assert b"".join(response.streaming_content) == content
    assert client.get(f"/office/applications/{app.pk}/attachments/{attachment.pk + 99}/").status_code == 404
    Path(settings.MEDIA_ROOT, attachment.file.name).write_bytes(PDF + b"forged")
    tampered = client.get(url)
    assert tampered.status_code == 409 and "変更された可能性" in body(tampered)


# -- reviewers ----------------------------------------------------------------------------------------------------------


def test_reviewer_declares_then_scores_and_rescoring_until_adoption(
    client: Client, staff: dict[str, User]
) -> None:
    s, r1, r2 = staff["secretariat"], staff["r1"], staff["r2"]
    app = submitted("J社", 20_000_000)
    mine = review.review_assign(actor=s, application=app, reviewer=r1)
    other = review.review_assign(actor=s, application=app, reviewer=r2)
    login(client, r1)
    listing = body(client.get("/office/reviews/"))
    assert app.receipt_number in listing and "未申告" in listing
    url = f"/office/reviews/{mine.pk}/"
    page = body(client.get(url))
    assert "利益相反の申告" in page and "審査項目ごとの点数" not in page
    early = client.post(url + "score/", {f"score_{c}": "5" for c in SCORES})
    assert early.status_code == 409 and "利益相反がないことを申告" in body(early)
    none = client.post(url + "conflict/", {})
    assert none.status_code == 422 and "選んでください" in body(none)
    assert client.post(url + "conflict/", {"conflict": "no"}).status_code == 302
    assert "審査の開始後に採点できます" in body(client.get(url))
    workflow.transition(actor=s, application=app, action_name="start_review")
    review.review_declare_conflict(actor=r2, assignment_id=other.pk, conflict=False)
    review.review_score(actor=r2, assignment_id=other.pk, scores=dict.fromkeys(SCORES, 3))  # 9点
    wrong = client.post(
        url + "score/", {"score_technology": "11", "score_commercialization": "7", "score_policy": "x"}
    )
    assert wrong.status_code == 422 and "0〜10の整数" in body(wrong) and 'value="11"' in body(wrong)
    assert client.post(url + "score/", {f"score_{c}": "8" for c in SCORES}).status_code == 302
    rescored = client.post(url + "score/", {"score_technology": "9", "score_commercialization": "8", "score_policy": "8"},
                           follow=True)  # fmt: skip
    assert "合計 25点" in body(rescored)
    page = body(client.get(url))
    assert "9点" not in page and "r2@example.jp" not in page  # never another reviewer's score
    workflow.transition(actor=s, application=app, action_name="adopt")
    late = client.post(url + "score/", {f"score_{c}": "1" for c in SCORES})
    assert late.status_code == 409 and "審査中の申請だけを採点できます" in body(late)
    assert ReviewAssignment.objects.get(pk=mine.pk).total == 25


def test_every_bad_score_is_reported_inline_and_what_was_typed_is_kept(
    client: Client, staff: dict[str, User]
) -> None:
    s, r1 = staff["secretariat"], staff["r1"]
    app = submitted("L社", 20_000_000)
    mine = review.review_assign(actor=s, application=app, reviewer=r1)
    workflow.transition(actor=s, application=app, action_name="start_review")
    review.review_declare_conflict(actor=r1, assignment_id=mine.pk, conflict=False)
    login(client, r1)
    url = f"/office/reviews/{mine.pk}/score/"
    wrong = client.post(url, {"score_technology": "11", "score_commercialization": "", "score_policy": "x"})
    page = body(wrong)
    assert wrong.status_code == 422
    for code in SCORES:  # each field marked and explained next to itself, not only the first one
        assert f'aria-describedby="score-{code}-error"' in page, code
        error = page[page.index(f'id="score-{code}-error"') :].split("</p>", 1)[0]
        assert "0〜10の整数" in error and "採点してください" in error, code
    assert 'value="11"' in page and 'value="x"' in page
    ok = client.post(url, {"score_technology": "10", "score_commercialization": "7", "score_policy": "0"})
    assert ok.status_code == 302 and ReviewAssignment.objects.get(pk=mine.pk).total == 17


def test_a_reviewer_who_declares_a_conflict_loses_the_application(
    client: Client, staff: dict[str, User]
) -> None:
    s, r1 = staff["secretariat"], staff["r1"]
    app = draft("K社", 20_000_000)
    attachment = services.attachment_add(
        actor=owner_of(app), application=app, name="k.pdf", content=PDF + b"k"
    )
    app = services.application_submit(actor=owner_of(app), application=app, at=AT)
    mine = review.review_assign(actor=s, application=app, reviewer=r1)
    login(client, r1)
    download = f"/office/applications/{app.pk}/attachments/{attachment.pk}/"
    assert client.get(download).status_code == 200
    missing = client.post(f"/office/reviews/{mine.pk}/conflict/", {"conflict": "yes", "conflict_reason": ""})
    assert missing.status_code == 422 and "利益相反の内容を入力してください" in body(missing)
    gone = client.post(f"/office/reviews/{mine.pk}/conflict/", {"conflict": "yes", "conflict_reason": "元従業員"},
                       follow=True)  # fmt: skip
    assert "利益相反を申告しました" in body(gone) and app.receipt_number not in body(gone).split("</p>", 1)[1]
    assert client.get(f"/office/reviews/{mine.pk}/").status_code == 404
    assert client.get(download).status_code == 404
    assert client.post(f"/office/reviews/{mine.pk}/score/", {}).status_code == 404


# -- who sees what ----------------------------------------------------------------------------------------------------------


def test_permission_matrix(client: Client, staff: dict[str, User]) -> None:
    s = staff["secretariat"]
    app = draft("L社", 20_000_000)
    owner = owner_of(app)
    attachment = services.attachment_add(actor=owner, application=app, name="l.pdf", content=PDF + b"l")
    app = services.application_submit(actor=owner, application=app, at=AT)
    other_draft = draft("M社", 20_000_000)
    advisor, vendor = user("adv@example.jp", Role.ADVISOR), user("v@example.jp", Role.VENDOR)
    advisor_consent_grant(actor=owner, organization=app.organization, advisor=advisor)
    assigned = review.review_assign(actor=s, application=app, reviewer=staff["r1"])
    conflicted = review.review_assign(actor=s, application=app, reviewer=staff["r3"])
    review.review_declare_conflict(
        actor=staff["r3"], assignment_id=conflicted.pk, conflict=True, reason="親族"
    )

    pages = {
        "home": "/office/",
        "list": "/office/applications/",
        "csv": "/office/applications/export.csv",
        "xlsx": "/office/applications/export.xlsx",
        "detail": f"/office/applications/{app.pk}/",
        "draft": f"/office/applications/{other_draft.pk}/",
        "round": "/office/rounds/monozukuri/18/",
        "adopt": "/office/rounds/monozukuri/18/adopt/",
        "file": f"/office/applications/{app.pk}/attachments/{attachment.pk}/",
        "reviews": "/office/reviews/",
        "review": f"/office/reviews/{assigned.pk}/",
        "conflicted": f"/office/reviews/{conflicted.pk}/",
    }
    posts = {
        "start": f"/office/applications/{app.pk}/act/start_review/",
        "budget": "/office/rounds/monozukuri/18/budget/",
    }
    F, N = 403, 404  # noqa: N806
    expected = {
        "owner": dict.fromkeys(pages, F) | dict.fromkeys(posts, F),
        "advisor": dict.fromkeys(pages, F) | dict.fromkeys(posts, F),
        "vendor": dict.fromkeys(pages, F) | dict.fromkeys(posts, F),
        "r1": dict.fromkeys(pages, F) | dict.fromkeys(posts, F)
        | {"home": 302, "file": 200, "reviews": 200, "review": 200, "conflicted": N},
        "r2": dict.fromkeys(pages, F) | dict.fromkeys(posts, F)
        | {"home": 302, "file": N, "reviews": 200, "review": N, "conflicted": N},
        "r3": dict.fromkeys(pages, F) | dict.fromkeys(posts, F)
        | {"home": 302, "file": N, "reviews": 200, "review": N, "conflicted": N},
        "bureau": dict.fromkeys(pages, 200) | dict.fromkeys(posts, F)
        | {"draft": N, "adopt": F, "reviews": F, "review": F, "conflicted": F},
        "secretariat": dict.fromkeys(pages, 200) | {"start": 302, "budget": 422}
        | {"draft": N, "reviews": F, "review": F, "conflicted": F},
    }  # fmt: skip
    people = {"owner": owner, "advisor": advisor, "vendor": vendor, "r1": staff["r1"], "r2": staff["r2"],
              "r3": staff["r3"], "bureau": staff["bureau"], "secretariat": s}  # fmt: skip
    seen = {}
    for name, who in people.items():
        browser = Client()
        browser.force_login(who)
        seen[name] = {key: browser.get(url).status_code for key, url in pages.items()} | {
            key: browser.post(url).status_code for key, url in posts.items()
        }
    assert seen == expected
    forbidden = Client()
    forbidden.force_login(owner)
    assert "事務局・経済産業局・審査員として登録された方だけ" in body(forbidden.get("/office/"))
    anonymous = Client()
    for url in pages.values():
        response = anonymous.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    # the reviewer's own list shows the assigned application only, and never the conflicted one
    r3 = Client()
    r3.force_login(staff["r3"])
    assert app.receipt_number not in body(r3.get("/office/reviews/"))
    assert list(office.office_applications(staff["r1"])) == [app]
    assert not office.office_applications(staff["r3"]).exists()
    assert not office.office_applications(owner).exists()
    assert set(office.office_applications(staff["bureau"])) == {app}  # never a draft


def test_csrf_is_required_for_actions(staff: dict[str, User]) -> None:
    app = submitted("N社", 20_000_000)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff["secretariat"])
    assert strict.post(f"/office/applications/{app.pk}/act/start_review/").status_code == 403
    assert Application.objects.get(pk=app.pk).state == State.SUBMITTED


def test_parse_yen() -> None:
    assert parse_yen("300,000,000") == 300_000_000
    assert parse_yen("３億") == 300_000_000
    assert parse_yen("1.5億円") == 150_000_000
    assert parse_yen("2,500万") == 25_000_000
    for bad in ("", "1.5", "abc", "-5", "1.23456万"):
        with pytest.raises(DomainError):
            parse_yen(bad)
