"""Builders shared by the applicant-side tests (test_applicant*, test_changes, test_withdraw).

No tests here: `at_state` takes a ものづくり application to any state through the real services and
the state machine, so every test starts from what production would have stored.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from conftest import Clock

from shien.accounts.models import Role, User
from shien.applications import postaward, review, services, workflow
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, ReviewAssignment, State
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, pay, user
from shien.rules.registry import JST

AT = datetime(2024, 3, 20, 10, 0, tzinfo=JST)  # ものづくり 18次 is open (until 3/27 17:00)
PDF = minimal_pdf("申請書類")  # a real one-page PDF (pypdf reads attachments)

# the path through the state machine to each state: (who acts, action) after submission
PATHS: dict[State, tuple[str, ...]] = {
    State.DRAFT: (),
    State.SUBMITTED: ("submit",),
    State.UNDER_REVIEW: ("submit", "start_review"),
    State.RETURNED: ("submit", "start_review", "return"),
    State.ADOPTED: ("submit", "start_review", "adopt"),
    State.REJECTED: ("submit", "start_review", "reject"),
    State.GRANT_REQUESTED: ("submit", "start_review", "adopt", "request_grant"),
    State.GRANTED: ("submit", "start_review", "adopt", "request_grant", "decide_grant"),
    State.RESULTS_REPORTED: ("submit", "start_review", "adopt", "request_grant", "decide_grant", "report_results"),
    State.CONFIRMED: ("submit", "start_review", "adopt", "request_grant", "decide_grant", "report_results",
                      "confirm_amount"),
    State.PAID: ("submit", "start_review", "adopt", "request_grant", "decide_grant", "report_results",
                 "confirm_amount", "record_payment"),
}  # fmt: skip


def freeze(clock: Clock, settings: Any, tmp_path: Any, at: datetime = AT) -> None:
    clock.set(at)
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def people() -> tuple[User, User]:
    return user("owner@example.jp"), user("office@example.jp", Role.SECRETARIAT)


def at_state(
    state: State,
    owner: User,
    secretariat: User,
    *,
    plan: dict[str, Any] | None = None,
    granted_yen: int = 25_000_000,
) -> Application:
    """A ものづくり 省力化 application (6,000万円 of machinery → 25,000,000円) moved to `state`."""
    app = services.application_create(actor=owner, organization=organization(owner), program="monozukuri",
                                      frame="shoryokuka", plan=plan or MONOZUKURI_PLAN)  # fmt: skip
    for step in PATHS[state]:
        if step == "submit":
            app = services.application_submit(actor=owner, application=app, at=AT)
        elif step in ("return", "reject"):
            app = workflow.transition(
                actor=secretariat, application=app, action_name=step, reason="書類の不備"
            )
        elif step == "request_grant":
            app = postaward.grant_request(actor=owner, application=app)
        elif step == "decide_grant":
            app = postaward.grant_decide(actor=secretariat, application=app, granted_yen=granted_yen)
        elif step == "report_results":
            proof = services.attachment_add(actor=owner, application=app, name="領収書.pdf", content=PDF)
            app = postaward.results_report(actor=owner, application=app, lines=[
                {"category": "machinery", "description": "一式", "amount_yen": 60_000_000,
                 "evidence_sha256": proof.sha256}])  # fmt: skip
        elif step == "confirm_amount":
            line = app.expense_lines.get()
            app, _ = postaward.confirm_amount(
                actor=secretariat, application=app, decisions={line.pk: (True, "")}
            )
        elif step == "record_payment":
            app = pay(secretariat, app, date(2025, 1, 31))
        else:
            app = workflow.transition(actor=secretariat, application=app, action_name=step)
    assert app.state == state
    return app


def upload(name: str, content: bytes = PDF) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")


SCORES = {"technology": 8, "commercialization": 7, "policy": 6}


def scored(office_user: User, reviewer: User) -> tuple[Application, ReviewAssignment]:
    app = at_state(State.UNDER_REVIEW, user("scored@example.jp"), office_user)
    assignment = review.review_assign(actor=office_user, application=app, reviewer=reviewer)
    review.review_declare_conflict(actor=reviewer, assignment_id=assignment.pk, conflict=False)
    return app, review.review_score(actor=reviewer, assignment_id=assignment.pk, scores=SCORES)
