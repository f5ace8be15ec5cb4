"""Review: who may assign and score, conflicts of interest, ranking and adoption within a budget."""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import Clock

from shien.accounts.models import Role
from shien.accounts.services import advisor_consent_grant
from shien.applications import review, services, workflow
from shien.applications.models import Application, State
from shien.applications.selectors import application_get, applications_for
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
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
