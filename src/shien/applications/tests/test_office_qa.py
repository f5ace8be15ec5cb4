"""Findings of the back-office QA pass, one group each (every test failed before its fix): the 支払日
range, reviewers who become related to the applicant after their assignment, 「採択する」 past the
round's budget, pending 計画変更 in the office, and the exports' 公募回 and 申請日時 columns."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Clock
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from shien.accounts.models import AdvisorConsent, Membership, Role, User
from shien.accounts.services import advisor_consent_grant
from shien.applications import changes, office, postaward, review, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, ChangeRequest, ReviewAssignment, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, granted, organization, user
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)
PDF = minimal_pdf("領収書")
SCORES = ("technology", "commercialization", "policy")
PAID_AFTER = timedelta(days=70)  # the payment comes weeks after the 額の確定 (2024-06-04)


@pytest.fixture(autouse=True)
def setup(settings: Any, tmp_path: Any, clock: Clock) -> None:
    clock.set(AT)
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def secretariat() -> User:
    return user("s@example.jp", Role.SECRETARIAT)


def body(response: Any) -> str:
    return response.content.decode()


def submitted(name: str, amount: int) -> Application:
    owner = user(f"{name}@example.jp")
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": amount}]}
    app = services.application_create(actor=owner, organization=organization(owner, name=name),
                                      program="monozukuri", frame="shoryokuka", plan=plan)  # fmt: skip
    return services.application_submit(actor=owner, application=app, at=AT)


def under_review(secretariat: User, name: str, amount: int) -> Application:
    return workflow.transition(
        actor=secretariat, application=submitted(name, amount), action_name="start_review"
    )


def owner_of(app: Application) -> User:
    return app.organization.memberships.get(kind=Membership.Kind.OWNER).user


def score(secretariat: User, app: Application, reviewer: User, points: int) -> ReviewAssignment:
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    return review.review_score(
        actor=reviewer, assignment_id=assignment.pk, scores=dict.fromkeys(SCORES, points)
    )


# -- 1. 支払日: from the day of the 額の確定 to today (JST) -------------------------------------------------------


def confirmed(secretariat: User) -> Application:
    owner = user("o@example.jp")
    app = granted(owner, secretariat, AT)
    proof = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=PDF)
    app = postaward.results_report(actor=owner, application=app, lines=[
        {"category": "machinery", "description": "一式", "amount_yen": 60_000_000, "evidence_sha256": proof.sha256}])  # fmt: skip
    app, _ = postaward.confirm_amount(
        actor=secretariat, application=app, decisions={app.expense_lines.get().pk: (True, "")}
    )
    return app


def test_a_payment_date_before_the_confirmation_or_after_today_is_refused(
    secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)  # confirmed on 2024-03-26 (the frozen clock)
    assert postaward.confirmed_on(app) == date(2024, 3, 26)
    today = clock.advance(PAID_AFTER).date()
    for day, message in (
        (
            date(1999, 1, 1),
            re.escape("支払日は額の確定日 令和6年3月26日(火)（2024-03-26） 以降の日付にしてください"),
        ),
        (date(2024, 3, 25), "額の確定日"),
        (date(2099, 12, 31), "支払日に未来の日付は入力できません"),
        (today + timedelta(days=1), "未来の日付"),
    ):
        with pytest.raises(DomainError, match=message) as refused:
            postaward.record_payment(actor=secretariat, application=app, paid_on=day)
        assert refused.value.code == "invalid_input"
    app.refresh_from_db()
    assert (app.state, app.paid_on) == (State.CONFIRMED, None)
    assert not AuditLog.objects.filter(action="application.record_payment").exists()
    paid = postaward.record_payment(actor=secretariat, application=app, paid_on=date(2024, 3, 26))
    assert (paid.state, paid.paid_on) == (State.PAID, date(2024, 3, 26))
    assert AuditLog.objects.get(action="application.record_payment").data["paid_on"] == "2024-03-26"


def test_today_in_japan_is_a_valid_payment_date(secretariat: User, clock: Clock) -> None:
    app = confirmed(secretariat)
    today = clock.set(datetime(2024, 4, 1, 0, 30, tzinfo=JST)).date()  # 3/31 15:30 UTC
    assert postaward.record_payment(actor=secretariat, application=app, paid_on=today).paid_on == today


def test_a_confirmation_recorded_before_the_date_was_kept_is_dated_by_its_audit_row(
    secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)
    clock.advance(PAID_AFTER)
    row = AuditLog.objects.get(action="application.confirm_amount")
    row.data.pop("confirmed_on")
    row.save()
    AuditLog.objects.filter(pk=row.pk).update(at=datetime(2024, 5, 1, 15, 30, tzinfo=UTC))  # 5/2 00:30 JST
    assert postaward.confirmed_on(app) == date(2024, 5, 2)
    with pytest.raises(DomainError, match="額の確定日"):
        postaward.record_payment(actor=secretariat, application=app, paid_on=date(2024, 5, 1))


def test_the_payment_form_refuses_a_date_out_of_range_and_keeps_it(
    client: Client, secretariat: User, clock: Clock
) -> None:
    app = confirmed(secretariat)
    today = clock.advance(PAID_AFTER).date().isoformat()
    client.force_login(secretariat)
    url = f"/office/applications/{app.pk}/"
    page = body(client.get(url))
    assert 'min="2024-03-26"' in page and f'max="{today}"' in page and "額の確定日（令和6年3月26日" in page
    for typed, message in (("1999-01-01", "額の確定日"), ("2099-12-31", "未来の日付は入力できません")):
        refused = client.post(url + "payment/", {"form": "payment", "paid_on": typed})
        text = body(refused)
        assert refused.status_code == 422 and message in text
        assert f'value="{typed}"' in text and 'aria-invalid="true"' in text and 'id="paid-error"' in text
    assert Application.objects.get(pk=app.pk).state == State.CONFIRMED
    assert client.post(url + "payment/", {"form": "payment", "paid_on": "2024-04-01"}).status_code == 302
    again = client.post(url + "payment/", {"form": "payment", "paid_on": "2024-04-01"}, follow=True)
    assert "すでに反映されています" in body(again)
    assert AuditLog.objects.filter(action="application.record_payment").count() == 1


# -- 2. a reviewer who becomes related to the applicant after the assignment -----------------------------------------


def relate(app: Application, reviewer: User, how: str) -> None:
    if how == "member":
        Membership.objects.create(user=reviewer, organization=app.organization)
    else:
        advisor_consent_grant(actor=owner_of(app), organization=app.organization, advisor=reviewer)


@pytest.mark.parametrize("how", ["member", "advisor"])
def test_a_reviewer_related_after_the_assignment_cannot_declare_none_or_score(
    secretariat: User, how: str
) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    reviewer = user("r@example.jp", Role.REVIEWER, Role.ADVISOR)
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    relate(app, reviewer, how)
    with pytest.raises(DomainError, match="関係者") as refused:
        review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    assert refused.value.code == "conflict_of_interest"
    assert ReviewAssignment.objects.get(pk=assignment.pk).conflict is None
    assert not AuditLog.objects.filter(action="review.declare_conflict").exists()
    declared = review.review_declare_conflict(
        actor=reviewer, assignment_id=assignment.pk, conflict=True, reason="顧問先になった"
    )
    assert declared.conflict is True  # declaring the conflict is what they should do


def test_a_reviewer_who_declared_none_then_became_related_cannot_score_again(secretariat: User) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    reviewer = user("r@example.jp", Role.REVIEWER)
    assignment = score(secretariat, app, reviewer, 5)
    relate(app, reviewer, "member")
    with pytest.raises(DomainError, match="関係者") as refused:
        review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=dict.fromkeys(SCORES, 10))
    assert refused.value.code == "conflict_of_interest"
    assert ReviewAssignment.objects.get(pk=assignment.pk).total == 15
    with pytest.raises(DomainError, match="関係者"):  # nor say 「なし」 again
        review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)


def test_a_related_reviewers_score_is_left_out_of_the_ranking_and_the_adoption(secretariat: User) -> None:
    r1, r2 = user("r1@example.jp", Role.REVIEWER), user("r2@example.jp", Role.REVIEWER)
    a = under_review(secretariat, "A精機", 40_000_000)  # 18,333,333円
    b = under_review(secretariat, "B工業", 10_000_000)  # 5,000,000円
    score(secretariat, a, r1, 4)  # 12点
    score(secretariat, a, r2, 10)  # 30点: the average would be 21
    score(secretariat, b, r1, 6)  # 18点
    score(secretariat, b, r2, 3)  # 9点: 13.5
    only = under_review(secretariat, "C製作所", 10_000_000)
    score(secretariat, only, r2, 10)  # scored by r2 alone
    relate(a, r2, "member")
    relate(only, r2, "member")
    assert [x.pk for x in review.ranking("monozukuri", "18")] == [b.pk, a.pk]  # a: 12 (r1 only) < b: 13.5
    rows = office.ranked("monozukuri", "18")
    assert [(r.application.pk, r.average, r.reviews, r.related) for r in rows] == [
        (b.pk, 13.5, 2, 0),
        (a.pk, 12, 1, 1),
    ]
    adopted = review.adopt_within_budget(
        actor=secretariat, program="monozukuri", round_id="18", budget_yen=100_000_000
    )
    assert {x.pk for x in adopted} == {a.pk, b.pk}  # C's only score is a related reviewer's
    assert Application.objects.get(pk=only.pk).state == State.UNDER_REVIEW


def test_the_secretariat_sees_the_left_out_score_and_is_not_offered_related_reviewers(
    client: Client, secretariat: User
) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    r1, r2 = user("r1@example.jp", Role.REVIEWER), user("r2@example.jp", Role.REVIEWER)
    free = user("free@example.jp", Role.REVIEWER)
    insider = user("insider@example.jp", Role.REVIEWER, Role.ADVISOR)
    score(secretariat, app, r1, 4)
    score(secretariat, app, r2, 10)
    relate(app, r2, "member")
    relate(app, insider, "advisor")
    assert list(office.reviewers_to_assign(app)) == [free]
    client.force_login(secretariat)
    url = f"/office/applications/{app.pk}/"
    response = client.get(url)
    page = body(response)
    assert "申請者の関係者（メンバー・同意を得た支援者）です。採点は平均点・順位に数えません" in page
    assert "12.00" in page and "有効な採点 1件" in page
    options = page[page.index('id="reviewer"') :].split("</select>", 1)[0]
    assert "free@example.jp" in options and "insider@example.jp" not in options
    assert "r2@example.jp" not in options  # already assigned
    round_page = body(client.get("/office/rounds/monozukuri/18/"))
    assert "申請者の関係者の採点 1件を除外" in round_page
    refused = client.post(url + "assign/", {"form": "assign", "reviewer": insider.pk})
    assert refused.status_code == 409 and "関係者のため割り当てられません" in body(refused)
    AdvisorConsent.objects.filter(advisor=insider).update(revoked_at=timezone.now())  # consent ended
    assert insider in office.reviewers_to_assign(app)


def test_the_reviewers_page_says_why_a_related_reviewer_cannot_declare_or_score(
    client: Client, secretariat: User
) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    reviewer = user("r@example.jp", Role.REVIEWER)
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    relate(app, reviewer, "member")
    client.force_login(reviewer)
    url = f"/office/reviews/{assignment.pk}/"
    assert "あなたはこの申請者の関係者" in body(client.get(url))
    refused = client.post(url + "conflict/", {"conflict": "no"})
    assert refused.status_code == 409 and "利益相反「なし」とは申告できません" in body(refused)
    assert 'id="conflict-no" name="conflict" value="no" checked' in body(refused)  # what was chosen is kept
    assert ReviewAssignment.objects.get(pk=assignment.pk).conflict is None
    Membership.objects.filter(user=reviewer).delete()
    ok = client.post(url + "conflict/", {"conflict": "no"})
    assert ok.status_code == 302
    relate(app, reviewer, "member")
    page = body(client.get(url))
    assert "審査項目ごとの点数" not in page and "申請者の関係者のため採点できません" in page
    scored = client.post(url + "score/", {f"score_{c}": "5" for c in SCORES})
    assert scored.status_code == 409 and "関係者" in body(scored)
    assert ReviewAssignment.objects.get(pk=assignment.pk).total is None


def test_declaring_none_twice_is_recorded_once(secretariat: User) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    reviewer = user("r@example.jp", Role.REVIEWER)
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    for _ in range(2):
        review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    assert AuditLog.objects.filter(action="review.declare_conflict").count() == 1


# -- 3. 「採択する」 on one application, weighed against the round's budget -------------------------------------------


def test_adopting_past_the_budget_asks_for_a_confirmation_of_the_overrun(
    client: Client, secretariat: User
) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)  # 18,333,333円
    score(secretariat, app, user("r@example.jp", Role.REVIEWER), 5)
    office.round_budget_set(actor=secretariat, program="monozukuri", round_id="18", budget_yen=10_000_000)
    client.force_login(secretariat)
    url = f"/office/applications/{app.pk}/"
    assert "公募回の予算残額 10,000,000円" in body(client.get(url))

    asked = client.post(url + "act/adopt/", {"form": "adopt"})
    text = body(asked)
    assert asked.status_code == 409
    assert "予算残額 10,000,000円を 8,333,333円超えます。それでも採択しますか？" in text
    assert 'name="over_budget_yen" value="8333333"' in text and 'name="over_budget_ok"' in text
    assert "予算を超えて採択する" in text
    assert Application.objects.get(pk=app.pk).state == State.UNDER_REVIEW
    assert not AuditLog.objects.filter(action="application.adopt").exists()

    unticked = client.post(url + "act/adopt/", {"form": "adopt", "over_budget_yen": "8333333"})
    assert unticked.status_code == 409 and "確認欄にチェックを入れてください" in body(unticked)
    assert 'aria-invalid="true"' in body(unticked)
    assert Application.objects.get(pk=app.pk).state == State.UNDER_REVIEW

    stale = client.post(url + "act/adopt/", {"form": "adopt", "over_budget_yen": "1", "over_budget_ok": "1"})
    assert stale.status_code == 409 and "確認した後に予算残額が変わりました" in body(stale)
    assert Application.objects.get(pk=app.pk).state == State.UNDER_REVIEW

    done = client.post(
        url + "act/adopt/",
        {"form": "adopt", "over_budget_yen": "8333333", "over_budget_ok": "1"},
        follow=True,
    )
    assert "「採択」しました" in body(done)
    assert Application.objects.get(pk=app.pk).state == State.ADOPTED
    audit = AuditLog.objects.get(action="application.adopt")
    assert audit.actor == secretariat
    assert (audit.data["remaining_yen"], audit.data["over_budget_yen"]) == (10_000_000, 8_333_333)
    figures = office.round_figures("monozukuri", "18")
    assert figures.over_budget and figures.over_yen == 8_333_333
    again = client.post(
        url + "act/adopt/",
        {"form": "adopt", "over_budget_yen": "8333333", "over_budget_ok": "1"},
        follow=True,
    )
    assert "すでに反映されています" in body(again)
    assert AuditLog.objects.filter(action="application.adopt").count() == 1


def test_adopting_when_the_budget_is_already_overdrawn_says_so(secretariat: User) -> None:
    a = under_review(secretariat, "A精機", 40_000_000)  # 18,333,333円
    b = under_review(secretariat, "B工業", 10_000_000)  # 5,000,000円
    office.round_budget_set(actor=secretariat, program="monozukuri", round_id="18", budget_yen=10_000_000)
    office.adopt_application(actor=secretariat, application=a, accept_over_yen=8_333_333)
    with pytest.raises(office.OverBudget) as asked:
        office.adopt_application(actor=secretariat, application=b)
    assert asked.value.overrun == office.Overrun(-8_333_333, 5_000_000)
    assert "予算はすでに 8,333,333円超過しています" in asked.value.message
    assert "超過は 13,333,333円になります。それでも採択しますか？" in asked.value.message
    office.adopt_application(actor=secretariat, application=b, accept_over_yen=13_333_333)
    assert Application.objects.get(pk=b.pk).state == State.ADOPTED


def test_adopting_within_the_budget_or_without_one_needs_no_confirmation(
    client: Client, secretariat: User
) -> None:
    a = under_review(secretariat, "A精機", 40_000_000)  # 18,333,333円
    b = under_review(secretariat, "B工業", 10_000_000)  # 5,000,000円
    client.force_login(secretariat)
    assert client.post(f"/office/applications/{a.pk}/act/adopt/", {"form": "adopt"}).status_code == 302
    office.round_budget_set(actor=secretariat, program="monozukuri", round_id="18", budget_yen=23_333_333)
    assert client.post(f"/office/applications/{b.pk}/act/adopt/", {"form": "adopt"}).status_code == 302
    assert set(Application.objects.values_list("state", flat=True)) == {State.ADOPTED}
    assert office.round_figures("monozukuri", "18").remaining_yen == 0
    assert all(
        "over_budget_yen" not in row.data for row in AuditLog.objects.filter(action="application.adopt")
    )


def test_only_the_secretariat_adopts_and_a_wrong_state_is_not_asked_about_the_budget(
    secretariat: User,
) -> None:
    app = submitted("A精機", 40_000_000)
    office.round_budget_set(actor=secretariat, program="monozukuri", round_id="18", budget_yen=1)
    with pytest.raises(DomainError, match="「申請済み」の申請は「採択」できません"):
        office.adopt_application(actor=secretariat, application=app)
    app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
    with pytest.raises(DomainError, match="権限"):
        office.adopt_application(actor=user("b@example.jp", Role.BUREAU), application=app)


# -- 4. pending 計画変更 in the back office ----------------------------------------------------------------------


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


# -- 5. exports: the 公募回's name, 申請日時 as ISO 8601 in JST to the second ------------------------------------------


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
