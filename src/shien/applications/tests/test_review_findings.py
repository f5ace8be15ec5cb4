"""Findings of the security and correctness review of the application lifecycle, one test each (every
one failed before its fix), and the permission matrix of every applicant-side POST endpoint."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.http import QueryDict
from django.test import Client

from shien.accounts.models import Membership, Role, User
from shien.accounts.services import advisor_consent_grant, advisor_consent_revoke
from shien.applications import followup, postaward, review, services, views, workflow
from shien.applications.models import Application, ChangeRequest, ReviewAssignment, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people, upload
from shien.applications.tests.test_followup_programs import BASE, figures, make_app, with_baseline
from shien.core.models import AuditLog, Notification
from shien.rules.errors import DomainError
from shien.rules.registry import JST
from shien.rules.text import parse_yen

pytestmark = pytest.mark.django_db
SCORES = {"technology": 8, "commercialization": 7, "policy": 6}
AFTER_YEAR_ONE = datetime(2026, 1, 5, 10, 0, tzinfo=JST)  # year 1 has closed (in March or December)


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def scored(office_user: User, reviewer: User) -> tuple[Application, ReviewAssignment]:
    app = at_state(State.UNDER_REVIEW, user("scored@example.jp"), office_user)
    assignment = review.review_assign(actor=office_user, application=app, reviewer=reviewer)
    review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    return app, review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=SCORES)


# -- follow-up reports and refunds ------------------------------------------------------------------------


def test_the_preview_refuses_a_report_year_beyond_the_programs_years(client: Client) -> None:
    """The growth targets are powers of the year: /followup/2000000/preview/ took seconds of CPU."""
    owner = user("owner@example.jp")
    app = with_baseline(make_app("monozukuri", owner), owner)
    client.force_login(owner)
    for year in (6, 2_000_000):
        response = client.post(f"/applications/{app.pk}/followup/{year}/preview/", {"min_wage_yen": "1000"})
        assert response.status_code == 404
    assert client.post(f"/applications/{app.pk}/followup/1/preview/", {}).status_code == 200
    with pytest.raises(DomainError, match="1〜5年目"):
        followup.evaluate(app, 6, figures(6))


def test_a_report_cannot_pick_an_older_fiscal_year_to_meet_a_lower_minimum_wage(clock: Clock) -> None:
    """広島県: 970円 until 2024-09-30, 1,020円 from 2024-10-01. The year-1 report of a grant paid on
    2025-01-31 is for the year ending 2025-03-31 (1,020 + 30 円 needed): dating it 2024-03-31 picked the
    older wage, and the missed commitment refunded nothing."""
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    app = with_baseline(make_app("monozukuri", owner), owner)
    with pytest.raises(DomainError, match="1年目の報告の事業年度末は") as refused:
        followup.followup_submit(actor=owner, application=app, year=1,
                                 figures=figures(1, fiscal_year_end=date(2024, 3, 31)))  # fmt: skip
    assert refused.value.errors[0]["field"] == "fiscal_year_end"
    report = followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    wage = next(c for c in report.checks if c["code"] == "min_wage")
    assert wage["passed"] is False and report.refund_yen == 12_000_000 // 5


def test_an_assumed_fiscal_year_must_still_end_in_the_report_year(clock: Clock) -> None:
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    plan = {"followup": {"baseline": {k: v for k, v in BASE.items() if k != "fiscal_year_end"}}}
    app = make_app("monozukuri", owner, plan=plan)  # the fiscal year end is only assumed (03-31)
    assert followup.fiscal_month_day(app)[2] is True
    with pytest.raises(DomainError, match="支払日"):
        followup.followup_submit(actor=owner, application=app, year=1,
                                 figures=figures(1, fiscal_year_end=date(2024, 12, 31)))  # fmt: skip
    report = followup.followup_submit(  # a business whose year ends in December: allowed
        actor=owner, application=app, year=1, figures=figures(1, fiscal_year_end=date(2025, 12, 31))
    )
    assert report.year == 1


def test_nothing_is_refunded_when_nothing_was_confirmed(clock: Clock) -> None:
    """確定額 0円 (every line rejected at the inspection): the refund was taken from 交付決定額 instead."""
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    app = make_app("monozukuri", owner, confirmed_yen=0)
    Application.objects.filter(pk=app.pk).update(granted_yen=12_000_000)
    app = with_baseline(Application.objects.get(pk=app.pk), owner)
    report = followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    assert next(c for c in report.checks if c["code"] == "min_wage")["passed"] is False
    assert report.refund_yen == 0


# -- notifications --------------------------------------------------------------------------------------


def test_a_deactivated_member_no_longer_hears_of_the_business(
    django_capture_on_commit_callbacks: Any,
) -> None:
    owner, office_user = people()
    app = at_state(State.SUBMITTED, owner, office_user)
    former = user("former@example.jp")
    Membership.objects.create(user=former, organization=app.organization)
    User.objects.filter(pk=former.pk).update(is_active=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(actor=office_user, application=app, action_name="start_review")
    assert Notification.objects.filter(kind="application.start_review", user=owner).count() == 1
    assert not Notification.objects.filter(user=former).exists()
    assert [m.to for m in mail.outbox] == [["owner@example.jp"]]


# -- error paths: a Japanese message, never a 500 ----------------------------------------------------------


def test_odd_input_gets_a_japanese_message_not_a_server_error(client: Client) -> None:
    owner, office_user = people()
    draft = at_state(State.DRAFT, owner, office_user)
    client.force_login(owner)
    stale = client.post(f"/applications/{draft.pk}/autosave/", {"version": "x"})
    assert stale.status_code == 409 and "読み込み直して" in stale.content.decode()
    # "²" is a digit to str.isdigit() and not to int(): the IT導入 form's 業務プロセス数
    plan, errors = views._plan_from(
        QueryDict("e_software=100万&processes=²"), ("software",)
    )  # NFKC: 2, as amounts
    assert (
        plan["expenses"] == [{"category": "software", "amount_yen": 1_000_000, "processes": 2}] and not errors
    )

    granted = at_state(State.GRANTED, owner, office_user)
    proof = services.attachment_add(actor=owner, application=granted, name="r.pdf", content=PDF)
    huge = client.post(f"/applications/{granted.pk}/report/", {
        "rows": "1", "category-1": "machinery", "description-1": "機械", "amount-1": "9" * 25,
        "evidence-1": proof.sha256})  # fmt: skip
    assert huge.status_code == 422 and "金額が大きすぎます" in huge.content.decode()
    with pytest.raises(DomainError, match="1円以上の整数"):
        postaward.results_report(actor=owner, application=granted, lines=[
            {"category": "machinery", "description": "x", "amount_yen": 10**20, "evidence_sha256": proof.sha256}])  # fmt: skip

    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    app, assignment = scored(office_user, reviewer)
    client.force_login(office_user)
    assign = client.post(f"/office/applications/{app.pk}/assign/", {"reviewer": "²"})
    assert assign.status_code == 422 and "審査員を選んでください" in assign.content.decode()
    with pytest.raises(DomainError, match="大きすぎます"):
        parse_yen("9" * 5000)
    client.force_login(reviewer)
    score = client.post(f"/office/reviews/{assignment.pk}/score/", {**{f"score_{k}": "1" for k in SCORES},
                                                                      "score_policy": "²"})  # fmt: skip
    assert score.status_code == 422 and "0〜" in score.content.decode()

    paid_owner = user("paid@example.jp")
    paid = make_app("monozukuri", paid_owner, number=99)
    client.force_login(paid_owner)
    year = client.post(f"/applications/{paid.pk}/followup/0/", {**{k: str(v) for k, v in BASE.items()},
                       "fiscal_year_end": "99999999999999999999-03-31"})  # fmt: skip
    assert year.status_code == 422 and "日付で入力してください" in year.content.decode()


def test_an_upload_is_read_no_further_than_the_size_limit(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2 GB upload was read into memory whole before its size was checked."""
    owner, office_user = people()
    draft = at_state(State.DRAFT, owner, office_user)
    granted = at_state(State.GRANTED, user("g@example.jp"), office_user)
    monkeypatch.setattr(services, "MAX_ATTACHMENT_BYTES", 64)
    seen: list[int] = []
    add = services.attachment_add

    def spy(**kwargs: Any) -> Any:
        seen.append(len(kwargs["content"]))
        return add(**kwargs)

    monkeypatch.setattr(services, "attachment_add", spy)
    client.force_login(owner)
    refused = client.post(f"/applications/{draft.pk}/attachments/", {"file": upload("big.pdf", PDF * 50)})
    assert refused.status_code == 413 and "MBまで" in refused.content.decode()  # too_large
    client.force_login(granted.organization.memberships.get().user)
    client.post(f"/applications/{granted.pk}/report/", {
        "rows": "1", "category-1": "machinery", "description-1": "機械", "amount-1": "100",
        "file-1": upload("big.pdf", PDF * 50)})  # fmt: skip
    assert seen == [65, 65]


# -- reviewers ---------------------------------------------------------------------------------------------


def test_a_reviewer_sees_the_history_without_the_applicants_people(client: Client) -> None:
    owner, office_user = people()
    app = at_state(State.SUBMITTED, owner, office_user)
    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    review.review_assign(actor=office_user, application=app, reviewer=reviewer)
    client.force_login(reviewer)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    timeline = page[page.index("これまでの経過") :]
    assert "申請者" in timeline and "owner@example.jp" not in page
    client.force_login(owner)
    assert "owner@example.jp" in client.get(f"/applications/{app.pk}/").content.decode()


def test_a_conflict_cannot_wipe_the_scores_once_the_review_has_ended(client: Client) -> None:
    _, office_user = people()
    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    app, assignment = scored(office_user, reviewer)
    workflow.transition(actor=office_user, application=app, action_name="adopt")
    client.force_login(reviewer)
    late = client.post(
        f"/office/reviews/{assignment.pk}/conflict/", {"conflict": "yes", "conflict_reason": "x"}
    )
    assert late.status_code == 409 and "事務局に連絡" in late.content.decode()
    assignment.refresh_from_db()
    assert (assignment.conflict, assignment.total) == (False, sum(SCORES.values()))


def test_assigning_a_reviewer_reads_the_state_under_the_lock() -> None:
    """Another secretary returned the application after this one opened the page: no assignment."""
    owner, office_user = people()
    app = at_state(State.UNDER_REVIEW, owner, office_user)
    stale = Application.objects.get(pk=app.pk)
    workflow.transition(actor=office_user, application=app, action_name="return", reason="不備")
    with pytest.raises(DomainError, match="審査中の申請にだけ"):
        review.review_assign(actor=office_user, application=stale,
                             reviewer=user("reviewer@example.jp", Role.REVIEWER))  # fmt: skip
    assert not ReviewAssignment.objects.exists()


# -- who may POST: only the applicant's people, and the office only on its own pages --------------------------


def test_no_applicant_side_post_works_for_the_bureau_reviewers_vendors_or_strangers(client: Client) -> None:
    owner, office_user = people()
    draft = at_state(State.DRAFT, owner, office_user)
    submitted = at_state(State.SUBMITTED, owner, office_user)
    adopted = at_state(State.ADOPTED, owner, office_user)
    granted = at_state(State.GRANTED, owner, office_user)
    change = ChangeRequest.objects.create(application=granted, plan=MONOZUKURI_PLAN, reason="r",
                                          requested_by=owner, estimate_yen=1)  # fmt: skip
    paid = with_baseline(make_app("monozukuri", owner, org=draft.organization, number=9), owner)
    reviewer = user("reviewer@example.jp", Role.REVIEWER)
    review.review_assign(actor=office_user, application=submitted, reviewer=reviewer)
    posts = {
        "/applications/new/": {"organization": draft.organization_id, "frame": "monozukuri/shoryokuka"},
        f"/applications/{draft.pk}/autosave/": {"version": "1", "purposes": "labor_saving"},
        f"/applications/{draft.pk}/attachments/": {"file": upload("a.pdf")},
        f"/applications/{draft.pk}/submit/": {},
        f"/applications/{submitted.pk}/submit/": {},  # already submitted: no pretend success either
        f"/applications/{draft.pk}/form4/": {"comment": "x"},
        f"/applications/{adopted.pk}/grant-request/": {},
        f"/applications/{granted.pk}/report/": {"rows": "1"},
        f"/applications/{submitted.pk}/withdraw/": {"step": "withdraw", "reason": "x"},
        f"/applications/{granted.pk}/changes/new/": {"reason": "x"},
        f"/applications/{granted.pk}/changes/{change.pk}/withdraw/": {},
        f"/applications/{granted.pk}/changes/{change.pk}/": {"decision": "approve"},
        f"/applications/{paid.pk}/followup/1/": {k: str(v) for k, v in BASE.items()}
        | {"fiscal_year_end": "2025-03-31"},
    }
    before = AuditLog.objects.count()
    states = dict(Application.objects.values_list("pk", "state"))
    for who in (user("bureau@example.jp", Role.BUREAU), reviewer, user("vendor@example.jp", Role.VENDOR),
                user("stranger@example.jp")):  # fmt: skip
        client.force_login(who)
        for url, data in posts.items():
            if "attachments" in url:
                data = {"file": upload("a.pdf")}
            response = client.post(url, data)
            assert response.status_code in (400, 403, 404, 409, 422), (who, url, response.status_code)
    assert AuditLog.objects.count() == before
    assert dict(Application.objects.values_list("pk", "state")) == states
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING


def test_an_advisor_whose_consent_is_revoked_loses_the_business_at_once(client: Client) -> None:
    owner, office_user = people()
    advisor = user("advisor@example.jp", Role.ADVISOR)
    org = organization(owner)
    consent = advisor_consent_grant(actor=owner, organization=org, advisor=advisor)
    Notification.objects.filter(kind="advisor_consent").delete()  # the advisor was told; not what is tested
    app = services.application_create(actor=advisor, organization=org, program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    client.force_login(advisor)
    assert client.get(f"/applications/{app.pk}/").status_code == 200  # a page open in the advisor's tab
    advisor_consent_revoke(actor=owner, consent=consent)
    assert client.get(f"/applications/{app.pk}/").status_code == 404
    saved = client.post(f"/applications/{app.pk}/autosave/", {"version": str(app.version)})
    assert saved.status_code == 404
    assert client.post(f"/applications/{app.pk}/submit/").status_code == 404
    with pytest.raises(DomainError):
        workflow.transition(actor=advisor, application=app, action_name="submit")
    assert app.pk not in views._acting(advisor).values_list("pk", flat=True)
    services.application_submit(actor=owner, application=app)
    assert not Notification.objects.filter(user=advisor).exists()  # the owner hears, not the advisor
    assert Notification.objects.filter(user=owner, kind="application.submit").exists()
