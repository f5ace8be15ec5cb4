"""Review: who may assign and score, conflicts of interest, ranking and adoption within a budget."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import Clock
from django.test import Client
from django.utils import timezone

from shien.accounts.models import AdvisorConsent, Membership, Role, User
from shien.accounts.services import advisor_consent_grant
from shien.applications import office, review, services, workflow
from shien.applications.models import Application, ReviewAssignment, State
from shien.applications.selectors import application_get, applications_for
from shien.applications.tests.factories import MONOZUKURI_PLAN, body, organization, user
from shien.applications.tests.test_applicant_builders import SCORES, at_state, people, scored
from shien.core.models import AuditLog
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
AT = datetime(2024, 3, 26, 10, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def open_round(clock: Clock) -> None:
    clock.set(AT)


def submitted(name: str, amount: int) -> Application:
    owner = user(f"{name}@example.jp")
    org = organization(owner, name=name)
    plan = {**MONOZUKURI_PLAN, "expenses": [{"category": "machinery", "amount_yen": amount}]}
    app = services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=plan
    )
    return services.application_submit(actor=owner, application=app, at=AT)


def test_reviewer_sees_only_assigned_and_unconflicted_applications() -> None:
    secretariat, reviewer = user("s@example.jp", Role.SECRETARIAT), user("r@example.jp", Role.REVIEWER)
    a, b = submitted("a", 10_000_000), submitted("b", 20_000_000)
    assert not applications_for(reviewer).exists()
    assignment = review.review_assign(actor=secretariat, application=a, reviewer=reviewer)
    assert list(applications_for(reviewer)) == [a]
    with pytest.raises(DomainError, match="見つかりません"):
        application_get(reviewer, b.pk)
    review.review_declare_conflict(
        actor=reviewer, assignment_id=assignment.pk, conflict=True, reason="取引先です"
    )
    assert not applications_for(reviewer).exists()


def test_related_reviewers_cannot_be_assigned() -> None:
    secretariat = user("s@example.jp", Role.SECRETARIAT)
    app = submitted("a", 10_000_000)
    advisor = user("adv@example.jp", Role.ADVISOR, Role.REVIEWER)
    owner = app.organization.memberships.get().user
    advisor_consent_grant(actor=owner, organization=app.organization, advisor=advisor)
    with pytest.raises(DomainError, match="関係者"):
        review.review_assign(actor=secretariat, application=app, reviewer=advisor)
    with pytest.raises(DomainError, match="権限"):
        review.review_assign(actor=user("r2@example.jp", Role.REVIEWER), application=app, reviewer=advisor)


def test_scoring_needs_a_declaration_and_the_rubric() -> None:
    secretariat, reviewer = user("s@example.jp", Role.SECRETARIAT), user("r@example.jp", Role.REVIEWER)
    app = workflow.transition(
        actor=secretariat, application=submitted("a", 10_000_000), action_name="start_review"
    )
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    scores = {"technology": 8, "commercialization": 7, "policy": 9}
    with pytest.raises(DomainError, match="利益相反がないことを申告"):
        review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=scores)
    review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    with pytest.raises(DomainError, match="0〜10の整数"):
        review.review_score(actor=reviewer, assignment_id=assignment.pk, scores={**scores, "policy": 11})
    with pytest.raises(DomainError, match="見つかりません"):
        review.review_score(
            actor=user("other@example.jp", Role.REVIEWER), assignment_id=assignment.pk, scores=scores
        )
    assert review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=scores).total == 24


def test_adoption_follows_the_ranking_within_the_budget() -> None:
    secretariat = user("s@example.jp", Role.SECRETARIAT)
    reviewers = [user(f"r{i}@example.jp", Role.REVIEWER) for i in range(2)]
    apps = {
        name: submitted(name, amount)
        for name, amount in (("top", 40_000_000), ("mid", 60_000_000), ("low", 10_000_000))
    }
    points = {"top": 9, "mid": 7, "low": 5}
    for name, app in apps.items():
        app = workflow.transition(actor=secretariat, application=app, action_name="start_review")
        for r in reviewers:
            a = review.review_assign(actor=secretariat, application=app, reviewer=r)
            review.review_declare_conflict(actor=r, assignment_id=a.pk, conflict=False)
            p = points[name]
            review.review_score(
                actor=r, assignment_id=a.pk, scores={"technology": p, "commercialization": p, "policy": p}
            )
    assert [a.organization.name for a in review.ranking("monozukuri", "18")] == ["top", "mid", "low"]
    # estimates: top 40M → 1,500万+(40M−30M)/3 = 18,333,333; mid 60M → 25,000,000; low 10M → 5,000,000
    adopted = review.adopt_within_budget(
        actor=secretariat, program="monozukuri", round_id="18", budget_yen=30_000_000
    )
    assert [a.organization.name for a in adopted] == ["top", "low"]
    assert Application.objects.get(pk=apps["mid"].pk).state == State.UNDER_REVIEW


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


def relate(app: Application, reviewer: User, how: str) -> None:
    if how == "member":
        Membership.objects.create(user=reviewer, organization=app.organization)
    else:
        advisor_consent_grant(actor=owner_of(app), organization=app.organization, advisor=reviewer)


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
def test_declaring_none_twice_is_recorded_once(secretariat: User) -> None:
    app = under_review(secretariat, "A精機", 40_000_000)
    reviewer = user("r@example.jp", Role.REVIEWER)
    assignment = review.review_assign(actor=secretariat, application=app, reviewer=reviewer)
    for _ in range(2):
        review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    assert AuditLog.objects.filter(action="review.declare_conflict").count() == 1


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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


@pytest.mark.usefixtures("office_day")
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
