"""Back-office pages: queues, search and exports, round dashboards with adoption within the budget,
one application's facts, history and actions (secretariat), and the reviewers' own pages.

The area is for the secretariat, the bureau (read-only) and reviewers: anyone else gets the area's
403 page; an application or assignment they may not see is the same 404 as a missing one. Every
action is a POST that goes through the services (workflow, review, postaward), so a double
submission is refused or recognised as already done, and the user's input is kept on an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from fractions import Fraction
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shien.accounts.models import Role, User
from shien.accounts.selectors import request_user
from shien.applications import followup, office, postaward, review, workflow
from shien.applications.files import download, open_verified
from shien.applications.limits import LINE_MAX, TEXT_MAX, echo, typed
from shien.applications.models import Application, ChangeRequest, ReviewAssignment, State
from shien.core.errors import DomainError, http_status
from shien.rules import clock
from shien.rules.text import parse_yen
from shien.rules.vocab import EXPENSE_CATEGORIES, PURPOSES

logger = logging.getLogger(__name__)
STAFF = (Role.SECRETARIAT, Role.BUREAU)
SECRETARIAT = (Role.SECRETARIAT,)
REVIEWER = (Role.REVIEWER,)
SIMPLE_ACTIONS = ("start_review", "return", "adopt", "reject")
DONE = {  # the state an action leads to (adopt may grant at once: 採択 = 交付決定)
    "start_review": (State.UNDER_REVIEW,),
    "return": (State.RETURNED,),
    "adopt": (State.ADOPTED, State.GRANTED),
    "reject": (State.REJECTED,),
    "decide_grant": (State.GRANTED,),
    "confirm_amount": (State.CONFIRMED,),
    "record_payment": (State.PAID,),
}

View = Callable[..., HttpResponse]


def office_area(*roles: str) -> Callable[[View], View]:
    """Logged in, and holding one of `roles`; otherwise the area's 403 page. The view gets the user."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request_user(request)
            held = office.roles_of(user)
            if not held & set(roles):
                return render(request, "office/forbidden.html", {"held": held}, status=403)
            request.office_roles = held  # type: ignore[attr-defined]
            # a refusal no view catches (core.middleware) is shown in the office's page, with its menu
            request.error_page = ("office/error.html", office_nav(request))  # type: ignore[attr-defined]
            return view(request, user, *args, **kwargs)

        return wrapped

    return decorate


def _problems(exc: DomainError) -> list[dict[str, str]]:
    return [{"message": exc.message}, *exc.errors]


def _application(user: User, pk: int) -> Application:
    """The application, if the user's office role may see it; `not_found` (the 404 page) otherwise."""
    return office.office_application_get(user, pk)


def _secretariat(request: HttpRequest) -> bool:
    return Role.SECRETARIAT in request.office_roles  # type: ignore[attr-defined]


def office_nav(request: HttpRequest) -> dict[str, Any]:
    held = request.office_roles  # type: ignore[attr-defined]
    return {
        "is_staff": bool(held & set(STAFF)),
        "is_secretariat": Role.SECRETARIAT in held,
        "is_reviewer": Role.REVIEWER in held,
    }


# -- queues, search, exports ----------------------------------------------------------------------------------


@office_area(*STAFF, *REVIEWER)
@require_GET
def home(request: HttpRequest, user: User) -> HttpResponse:
    held = request.office_roles  # type: ignore[attr-defined]
    if not held & set(STAFF):
        return redirect("office-reviews")  # a reviewer's office is the list of assignments
    filters = office.Filters.from_query(request.GET)
    rounds = [r for r in office.rounds_in_office() if not filters.program or r["program"] == filters.program]
    late = followup.overdue(clock.now())
    pending = list(office.pending_changes(user, filters))
    counts = office.state_counts(user, filters)
    for count in counts:
        count["query"] = filters.query(state=count["state"])
    context = {
        **office_nav(request),
        "filters": filters,
        "counts": counts,
        "programs": office.programs_in_office(),
        "rounds": rounds,
        "all_rounds": office.rounds_in_office(),
        "overdue": late[:20],
        "overdue_count": len(late),
        "changes": pending[:20],
        "changes_count": len(pending),
    }
    return render(request, "office/home.html", context)


@office_area(*STAFF)
@require_GET
def application_list(request: HttpRequest, user: User) -> HttpResponse:
    filters = office.Filters.from_query(request.GET)
    page = Paginator(office.search(user, filters), office.PAGE_SIZE).get_page(request.GET.get("page"))
    rounds = office.rounds_in_office()
    context = {
        **office_nav(request),
        "filters": filters,
        "page": page,
        "states": office.QUEUE_STATES,
        "programs": sorted({(r["program"], office.program_name(r["program"])) for r in rounds}),
        "all_rounds": rounds,
        "names": {r["program"]: office.program_name(r["program"]) for r in rounds},
        "query": filters.query(),
        "sort_query": filters.query(
            sort="submitted_at" if filters.sort == "-submitted_at" else "-submitted_at"
        ),
        "prev_query": filters.query(page=str(page.number - 1)) if page.has_previous() else "",
        "next_query": filters.query(page=str(page.number + 1)) if page.has_next() else "",
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, "office/_results.html", context)
    return render(request, "office/list.html", context)


@office_area(*STAFF)
@require_GET
def export_csv(request: HttpRequest, user: User) -> StreamingHttpResponse:
    filters = office.Filters.from_query(request.GET)
    response = StreamingHttpResponse(office.export_csv(user, filters), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="shien-applications.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@office_area(*STAFF)
@require_GET
def export_xlsx(request: HttpRequest, user: User) -> FileResponse:
    filters = office.Filters.from_query(request.GET)
    response = FileResponse(
        office.export_xlsx(user, filters),
        as_attachment=True,
        filename="shien-applications.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# -- the dashboard of a round -------------------------------------------------------------------------------------


def _round(program: str, round_id: str) -> None:
    if not office.round_known(program, round_id):
        raise Http404("公募回が見つかりません")


def _round_page(
    request: HttpRequest, program: str, round_id: str, *, values: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    figures = office.round_figures(program, round_id)
    values = values or {}
    context = {
        **office_nav(request),
        "figures": figures,
        "budget_value": values.get("budget_yen", f"{figures.budget.budget_yen:,}" if figures.budget else ""),
        "problems": problems or [],
    }
    return render(request, "office/round.html", context, status=status)


@office_area(*STAFF)
@require_GET
def round_dashboard(request: HttpRequest, user: User, program: str, round_id: str) -> HttpResponse:
    _round(program, round_id)
    return _round_page(request, program, round_id)


@office_area(*SECRETARIAT)
@require_POST
def round_budget(request: HttpRequest, user: User, program: str, round_id: str) -> HttpResponse:
    _round(program, round_id)
    text = request.POST.get("budget_yen", "")
    try:
        budget = office.round_budget_set(
            actor=user, program=program, round_id=round_id, budget_yen=parse_yen(text)
        )
    except DomainError as exc:
        return _round_page(request, program, round_id, values={"budget_yen": text},
                           problems=_problems(exc), status=http_status(exc))  # fmt: skip
    messages.success(request, f"予算額を {budget.budget_yen:,}円 に設定しました")
    return redirect("office-round", program, round_id)


@office_area(*SECRETARIAT)
@require_http_methods(["GET", "POST"])
def round_adopt(request: HttpRequest, user: User, program: str, round_id: str) -> HttpResponse:
    """GET: which applications would be adopted within the remaining budget; POST: adopt them."""
    _round(program, round_id)
    problems: list[dict[str, str]] = []
    status = 200
    if request.method == "POST":
        try:
            confirmed = [int(pk) for pk in request.POST.getlist("application")]
            result = office.adopt_confirmed(
                actor=user, program=program, round_id=round_id, confirmed=confirmed
            )
        except ValueError:
            problems, status = [{"message": "採択する申請の指定が正しくありません"}], 400
        except DomainError as exc:
            problems, status = _problems(exc), http_status(exc)
        else:
            if result.already:
                messages.info(request, "この採択はすでに反映されています")
            else:
                total = sum(a.estimate_yen or 0 for a in result.adopted)
                messages.success(
                    request, f"{len(result.adopted)}件を採択しました（補助金額の試算の合計 {total:,}円）"
                )
            return redirect("office-round", program, round_id)
    context = {
        **office_nav(request),
        "figures": office.round_figures(program, round_id),
        "problems": problems,
    }
    return render(request, "office/adopt_confirm.html", context, status=status)


# -- one application ---------------------------------------------------------------------------------------------------


def _plan(app: Application) -> dict[str, Any]:
    plan = app.plan or {}
    return {
        "purposes": [PURPOSES.get(p, p) for p in plan.get("purposes", [])],
        "expenses": [
            (EXPENSE_CATEGORIES.get(e.get("category"), e.get("category")), e.get("amount_yen"))
            for e in plan.get("expenses", [])
        ],
        "expenses_total": sum(int(e.get("amount_yen") or 0) for e in plan.get("expenses", [])),
        "commitments": plan.get("commitments", {}),
    }


def _facts(app: Application) -> dict[str, Any]:
    return {
        "app": app,
        "org": app.organization,
        "program_name": office.program_name(app.program),
        "frame_name": office.frame_name(app.program, app.frame),
        "round_name": office.round_name(app.program, app.round_id),
        "plan": _plan(app),
        "attachments": app.attachments.order_by("uploaded_at", "pk"),
    }


def _rubric(app: Application) -> list[dict[str, Any]]:
    try:
        return review.rubric(app)
    except KeyError:
        return []


def _detail(
    request: HttpRequest, user: User, app: Application, *, problems: list[dict[str, str]] | None = None,
    values: dict[str, Any] | None = None, status: int = 200, over_budget: office.Overrun | None = None,
) -> HttpResponse:  # fmt: skip
    secretariat = _secretariat(request)
    rubric = _rubric(app)
    reviews = list(app.reviews.select_related("reviewer").order_by("assigned_at", "pk"))
    related = office.related_reviewer_ids(app) if reviews else set()
    valid = [
        r.total
        for r in reviews
        if r.conflict is False and r.total is not None and r.reviewer_id not in related
    ]
    actions = (
        {
            name: workflow.ACTIONS[name]
            for name in SIMPLE_ACTIONS
            if app.state in workflow.ACTIONS[name].sources
        }
        if secretariat
        else {}
    )
    values = values or {}
    can_pay = secretariat and app.state == State.CONFIRMED
    today = clock.today()
    lines = list(app.expense_lines.select_related("evidence").order_by("pk"))
    for line in lines:
        line.form_decision = values.get(f"decision_{line.pk}", "")  # type: ignore[attr-defined]
        line.form_note = echo(values.get(f"note_{line.pk}", line.inspection_note), LINE_MAX)  # type: ignore[attr-defined]
        line.category_label = EXPENSE_CATEGORIES.get(line.category, line.category)  # type: ignore[attr-defined]
    context = {
        **office_nav(request),
        **_facts(app),
        "problems": problems or [],
        "values": values,
        "history": office.history(app),
        "rubric": rubric,
        "reviews": [
            {
                "review": r,
                "scores": [(item["label"], r.scores.get(item["code"]), item["max"]) for item in rubric],
                "related": r.reviewer_id in related,  # now related to the applicant: the score is left out
            }
            for r in reviews
        ],  # fmt: skip
        "average": office.Ranked(app, Fraction(sum(valid), len(valid)), len(valid)) if valid else None,
        "actions": actions,
        "can_assign": secretariat and app.state in (State.SUBMITTED, State.UNDER_REVIEW),
        "reviewers": office.reviewers_to_assign(app) if secretariat else [],
        "can_grant": secretariat and app.state == State.GRANT_REQUESTED,
        "can_inspect": secretariat and app.state == State.RESULTS_REPORTED,
        "can_pay": can_pay,
        "grant_default": values.get("granted_yen", f"{app.estimate_yen:,}" if app.estimate_yen else ""),
        "paid_default": values.get("paid_on", today.isoformat()),
        "paid_min": postaward.confirmed_on(app) if can_pay else None,
        "today": today,
        "lines": lines,
        "explanation": office.explanation(app),
        "over_budget": over_budget,
        "remaining_yen": office.remaining_for(app) if "adopt" in actions else None,
        "pending_change": app.change_requests.filter(status=ChangeRequest.Status.PENDING).first(),
    }
    return render(request, "office/application.html", context, status=status)


@office_area(*STAFF)
@require_GET
def application_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    return _detail(request, user, _application(user, pk))


def _act(
    request: HttpRequest, user: User, app: Application, action: str, run: Callable[[], str],
    same: Callable[[Application], bool] = lambda current: True,
) -> HttpResponse:  # fmt: skip
    """Run a secretariat action; success or an already-done repeat (the state it leads to, and `same`
    holds) redirects with its message, and an error shows the page again with what was typed."""
    try:
        done = run()
    except DomainError as exc:
        current = Application.objects.get(pk=app.pk)
        if exc.code == "invalid_state" and current.state in DONE.get(action, ()) and same(current):
            messages.info(request, "この操作はすでに反映されています")
            return redirect("office-application", app.pk)
        values = typed(request.POST)  # shown again up to TEXT_MAX and a margin, not a pasted megabyte
        over = exc.overrun if isinstance(exc, office.OverBudget) else None
        return _detail(request, user, current, problems=_problems(exc), values=values, status=http_status(exc),
                       over_budget=over)  # fmt: skip
    messages.success(request, done)
    return redirect("office-application", app.pk)


@office_area(*SECRETARIAT)
@require_POST
def application_act(request: HttpRequest, user: User, pk: int, action: str) -> HttpResponse:
    app = _application(user, pk)
    if action not in SIMPLE_ACTIONS:
        raise Http404("不明な操作です")
    label = workflow.ACTIONS[action].label

    def run() -> str:
        if action == "adopt":
            return adopt()
        moved = workflow.transition(
            actor=user, application=app, action_name=action, reason=request.POST.get("reason", "").strip()
        )
        return f"「{label}」しました（状態: {State(moved.state).label}）"

    def adopt() -> str:
        """Past the round's budget, the second POST carries the overrun confirmed (and its checkbox)."""
        asked = request.POST.get("over_budget_yen", "")
        ticked = request.POST.get("over_budget_ok") == "1"
        accepted = int(asked) if ticked and asked.isdecimal() and len(asked) <= 18 else None
        try:
            moved = office.adopt_application(actor=user, application=app, accept_over_yen=accepted)
        except office.OverBudget as exc:
            if asked and not ticked:
                exc.errors.append({"field": "over_budget_ok",
                                   "message": "予算を超えて採択するには、確認欄にチェックを入れてください"})  # fmt: skip
            raise
        return f"「{label}」しました（状態: {State(moved.state).label}）"

    return _act(request, user, app, action, run)


@office_area(*SECRETARIAT)
@require_POST
def application_assign(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    app = _application(user, pk)

    def run() -> str:
        chosen = request.POST.get("reviewer", "")
        valid = chosen.isdecimal() and len(chosen) <= 18  # "²" is a digit that int() refuses
        reviewer = User.objects.filter(pk=int(chosen)).first() if valid else None
        if reviewer is None:
            raise DomainError("invalid_input", "割り当てる審査員を選んでください")
        review.review_assign(actor=user, application=app, reviewer=reviewer)
        return f"{reviewer} さんを審査員に割り当てました"

    return _act(request, user, app, "assign", run)


@office_area(*SECRETARIAT)
@require_POST
def application_grant(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    app = _application(user, pk)

    def run() -> str:
        amount = parse_yen(request.POST.get("granted_yen", ""))
        decided = postaward.grant_decide(actor=user, application=app, granted_yen=amount)
        return f"交付決定しました（交付決定額 {decided.granted_yen:,}円）"

    def same(current: Application) -> bool:
        try:
            return current.granted_yen == parse_yen(request.POST.get("granted_yen", ""))
        except DomainError:
            return False

    return _act(request, user, app, "decide_grant", run, same)


@office_area(*SECRETARIAT)
@require_POST
def application_inspect(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    app = _application(user, pk)

    def run() -> str:
        if app.state != State.RESULTS_REPORTED:  # the form was for a report that is no longer pending
            raise DomainError("invalid_state", f"「{State(app.state).label}」の申請は確定検査できません")
        decisions = office.inspection_decisions(request.POST, app)
        confirmed, _ = postaward.confirm_amount(actor=user, application=app, decisions=decisions)
        return f"確定検査を終え、補助金の額を {confirmed.confirmed_yen:,}円 に確定しました"

    return _act(request, user, app, "confirm_amount", run)


@office_area(*SECRETARIAT)
@require_POST
def application_payment(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    app = _application(user, pk)

    def run() -> str:
        try:
            paid_on = date.fromisoformat(request.POST.get("paid_on", ""))
        except ValueError:
            raise DomainError("invalid_input", "支払日を 2025-01-31 の形で入力してください") from None
        paid = postaward.record_payment(actor=user, application=app, paid_on=paid_on)
        return f"支払を記録しました（{paid.confirmed_yen or 0:,}円）"

    def same(current: Application) -> bool:
        return current.paid_on is not None and current.paid_on.isoformat() == request.POST.get("paid_on")

    return _act(request, user, app, "record_payment", run, same)


@office_area(*STAFF, *REVIEWER)
@require_GET
def attachment_download(request: HttpRequest, user: User, pk: int, attachment_pk: int) -> HttpResponse:
    """The stored file, as uploaded, only if its SHA-256 still matches the one recorded at upload."""
    app = _application(user, pk)
    attachment = app.attachments.filter(pk=attachment_pk).first()
    if attachment is None:
        raise Http404("ファイルが見つかりません")
    handle = open_verified(attachment)
    if handle is None:
        message = "このファイルは保存後に変更された可能性があるため、表示できません。システム管理者に連絡してください"
        return render(request, "office/error.html", {**office_nav(request), "message": message}, status=409)
    return download(attachment, handle)  # named and typed after the detected type


# -- reviewers -------------------------------------------------------------------------------------------------------


def _assignment(user: User, pk: int) -> ReviewAssignment:
    """The reviewer's own assignment; `not_found` (the 404 page) for anyone else's."""
    return office.my_assignment_get(user, pk)


@office_area(*REVIEWER)
@require_GET
def reviews(request: HttpRequest, user: User) -> HttpResponse:
    context = {**office_nav(request), "assignments": office.my_assignments(user)}
    return render(request, "office/reviews.html", context)


def _review_page(
    request: HttpRequest, assignment: ReviewAssignment, *, values: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    app = assignment.application
    values = values or {}
    related = review.related(assignment.reviewer, app)  # the relation may have begun after assignment
    wrong = {p.get("field") for p in problems or []}
    items = [
        {**item, "value": values.get(f"score_{item['code']}", assignment.scores.get(item["code"], "")),
         "error": f"score_{item['code']}" in wrong}
        for item in _rubric(app)
    ]  # fmt: skip
    context = {
        **office_nav(request),
        **_facts(app),
        "assignment": assignment,
        "items": items,
        "values": values,
        "problems": problems or [],
        "related": related,
        "can_score": assignment.conflict is False and app.state == State.UNDER_REVIEW and not related,
    }
    return render(request, "office/review.html", context, status=status)


@office_area(*REVIEWER)
@require_GET
def review_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    return _review_page(request, _assignment(user, pk))


@office_area(*REVIEWER)
@require_POST
def review_conflict(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    assignment = _assignment(user, pk)
    answer, reason = request.POST.get("conflict", ""), request.POST.get("conflict_reason", "")
    try:
        if answer not in ("yes", "no"):
            raise DomainError("invalid_input", "利益相反の有無を選んでください")
        review.review_declare_conflict(  # 「なし」 twice changes nothing (the service says so)
            actor=user, assignment_id=assignment.pk, conflict=answer == "yes", reason=reason
        )
    except DomainError as exc:
        return _review_page(request, assignment, values={"conflict": answer, "conflict_reason": echo(reason, TEXT_MAX)},
                            problems=_problems(exc), status=http_status(exc))  # fmt: skip
    if answer == "yes":
        messages.info(
            request, f"{assignment.application} について利益相反を申告しました。この申請の審査からは外れます"
        )
        return redirect("office-reviews")
    messages.success(request, "利益相反がないことを申告しました。採点できます")
    return redirect("office-review", assignment.pk)


@office_area(*REVIEWER)
@require_POST
def review_score(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    assignment = _assignment(user, pk)
    values = {k: v.strip() for k, v in request.POST.items() if k.startswith("score_")}
    try:
        scores: dict[str, int] = {}
        errors = []
        for item in _rubric(assignment.application):  # every field checked: each bad one is reported
            field, text = f"score_{item['code']}", values.get(f"score_{item['code']}", "")
            if text.isdecimal() and len(text) <= 6 and int(text) <= item["max"]:
                scores[item["code"]] = int(text)
                continue
            label, top = item["label"], item["max"]
            message = (
                f"「{label}」は0〜{top}の整数で採点してください"
                if text
                else f"「{label}」を採点してください（0〜{top}の整数）"
            )
            errors.append({"field": field, "message": message})
        if errors:
            raise DomainError("invalid_score", "採点に誤りがあります", errors)
        scored = review.review_score(actor=user, assignment_id=assignment.pk, scores=scores)
    except DomainError as exc:
        return _review_page(
            request, assignment, values=values, problems=_problems(exc), status=http_status(exc)
        )
    messages.success(request, f"採点を保存しました（合計 {scored.total}点）")
    return redirect("office-review", assignment.pk)
