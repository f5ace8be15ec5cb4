"""Review: assignment, conflict declaration, scoring against the frame's rubric, ranking, adoption.

Reviewers see only applications assigned to them and not declared in conflict; they score only
after declaring that they have no conflict. The secretariat adopts down the ranking within a budget.

A reviewer related to the applicant (a member of its organization, or its advisor with consent in
force: `can_act_for`, the check made at assignment) is refused not only at assignment: the relation
may begin later, so it is checked again when the reviewer declares 「なし」 and when they score, and
a related reviewer's score is left out of the ranking (`valid_reviews`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Avg, Exists, OuterRef, Q, QuerySet

from shien.accounts.models import AdvisorConsent, Membership, Role, User
from shien.applications import workflow
from shien.applications.limits import free_text
from shien.applications.models import Application, ReviewAssignment, State
from shien.core.errors import DomainError
from shien.core.services import audit_record
from shien.rules import clock
from shien.rules.registry import JST, registry

REVIEW_STATES = (State.SUBMITTED, State.UNDER_REVIEW)


def rubric(application: Application, day: date | None = None) -> list[dict[str, Any]]:
    moment = day or (application.submitted_at or clock.now()).astimezone(JST).date()
    return list(registry().at(moment)[f"{application.program}.review.rubric"])


RELATED = "この申請者の関係者（事業者のメンバー、または同意を得た支援者）として登録されているため"


related = workflow.related  # a member or consented advisor of the applicant: bars assignment and scores


def related_reviews() -> Q:
    """Assignments whose reviewer is now related to the applicant (see `related`), as a filter on
    ReviewAssignment: the same relation as `can_act_for`, in the database."""
    member = Membership.objects.filter(
        user=OuterRef("reviewer_id"), organization=OuterRef("application__organization_id")
    )
    advisor = AdvisorConsent.objects.filter(
        advisor=OuterRef("reviewer_id"),
        organization=OuterRef("application__organization_id"),
        revoked_at__isnull=True,
    )
    return Q(Exists(member)) | Q(Exists(advisor))


def valid_reviews() -> QuerySet[ReviewAssignment]:
    """The scores that count: declared without conflict, scored, by a reviewer not related to the
    applicant."""
    return ReviewAssignment.objects.filter(conflict=False, total__isnull=False).exclude(related_reviews())


def _require(user: User, role: Role, what: str) -> None:
    if not user.has_role(role):
        raise DomainError("forbidden", f"{what}権限がありません")


@transaction.atomic
def review_assign(*, actor: User, application: Application, reviewer: User) -> ReviewAssignment:
    _require(actor, Role.SECRETARIAT, "審査員を割り当てる")
    if not reviewer.has_role(Role.REVIEWER):
        raise DomainError("invalid_input", "この利用者は審査員として登録されていません")
    # the state as it is now, locked: another secretary may have returned or decided it meanwhile
    application = (
        Application.objects.select_for_update().select_related("organization").get(pk=application.pk)
    )
    if application.state not in REVIEW_STATES:
        raise DomainError("invalid_state", "申請済み・審査中の申請にだけ審査員を割り当てられます")
    if related(reviewer, application):  # a member or consented advisor of the applicant
        raise DomainError("conflict_of_interest", "この審査員は申請者の関係者のため割り当てられません")
    assignment, created = ReviewAssignment.objects.get_or_create(
        application=application, reviewer=reviewer, defaults={"assigned_by": actor}
    )
    if created:
        audit_record(actor=actor, action="review.assign", obj=assignment, data={"reviewer": reviewer.pk})
    return assignment


def _own(actor: User, assignment_id: int) -> ReviewAssignment:
    assignment = (
        ReviewAssignment.objects.select_for_update(of=("self", "application"))
        .select_related("application__organization")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or assignment.reviewer_id != actor.pk:
        raise DomainError("not_found", "割り当てられた審査が見つかりません")
    return assignment


@transaction.atomic
def review_declare_conflict(
    *, actor: User, assignment_id: int, conflict: bool, reason: str = ""
) -> ReviewAssignment:
    assignment = _own(actor, assignment_id)
    if not conflict and related(actor, assignment.application):  # the relation may have begun since
        raise DomainError(
            "conflict_of_interest",
            f"あなたは{RELATED}、利益相反「なし」とは申告できません。「ある」を選んで内容を申告してください",
        )
    if not conflict and assignment.conflict is False:
        return assignment  # 「なし」 again (a double click): nothing changes, nothing recorded
    if assignment.application.state not in REVIEW_STATES:  # the scores a decision rested on stay as they were
        raise DomainError(
            "invalid_state", "審査が終わった申請です。利益相反が判明した場合は事務局に連絡してください"
        )
    reason = free_text(reason, label="利益相反の内容")
    if conflict and not reason:
        raise DomainError("reason_required", "利益相反の内容を入力してください")
    assignment.conflict, assignment.conflict_reason = conflict, reason
    if conflict:  # a conflicted reviewer's scores never count
        assignment.scores, assignment.total, assignment.scored_at = {}, None, None
    assignment.save()
    audit_record(
        actor=actor,
        action="review.declare_conflict",
        obj=assignment,
        reason=reason,
        data={"conflict": conflict},
    )
    return assignment


@transaction.atomic
def review_score(*, actor: User, assignment_id: int, scores: dict[str, int]) -> ReviewAssignment:
    assignment = _own(actor, assignment_id)
    if assignment.conflict is not False:
        raise DomainError("conflict_not_declared", "採点の前に、利益相反がないことを申告してください")
    if related(actor, assignment.application):
        raise DomainError(
            "conflict_of_interest",
            f"あなたは{RELATED}採点できません。利益相反を申告して、この申請の審査から外れてください",
        )
    if assignment.application.state != State.UNDER_REVIEW:
        raise DomainError("invalid_state", "審査中の申請だけを採点できます")
    items = rubric(assignment.application)
    clean: dict[str, int] = {}
    for item in items:
        value = scores.get(item["code"])
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= item["max"]:
            raise DomainError(
                "invalid_score", f"「{item['label']}」は0〜{item['max']}の整数で採点してください"
            )
        clean[item["code"]] = value
    assignment.scores, assignment.total, assignment.scored_at = clean, sum(clean.values()), clock.now()
    assignment.save()
    audit_record(actor=actor, action="review.score", obj=assignment, data={"total": assignment.total})
    return assignment


def ranking(program: str, round_id: str) -> QuerySet[Application]:
    """Applications under review with at least one valid score (`valid_reviews`), best average first."""
    valid = valid_reviews().filter(application__program=program, application__round_id=round_id)
    return (
        Application.objects.filter(program=program, round_id=round_id, state=State.UNDER_REVIEW)
        .filter(reviews__in=valid)
        .annotate(score=Avg("reviews__total"))
        .order_by("-score", "submitted_at", "pk")
    )


def adopt_within_budget(*, actor: User, program: str, round_id: str, budget_yen: int) -> list[Application]:
    """Adopt down the ranking while the estimated subsidies fit the budget (each move audited)."""
    _require(actor, Role.SECRETARIAT, "採択する")
    adopted, spent = [], 0
    for application in ranking(program, round_id):
        amount = application.estimate_yen or 0
        if spent + amount > budget_yen:
            continue  # a cheaper application further down may still fit
        adopted.append(workflow.transition(actor=actor, application=application, action_name="adopt"))
        spent += amount
    return adopted
