"""Application pages: create a draft, edit with autosave, attach, submit, receipt."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from shien.accounts.models import User
from shien.accounts.selectors import organization_get, request_user
from shien.applications import services
from shien.applications.models import Application, State
from shien.applications.selectors import application_get
from shien.navigator.services import _number
from shien.rules.errors import DomainError
from shien.rules.registry import registry
from shien.rules.vocab import EXPENSE_CATEGORIES, INVOICE_FUNCTIONS, PURPOSES

FACTS = {
    "labor_shortage": "人手不足の状態にある",
    "deficit": "赤字（直近1期の課税所得が0以下）",
    "revitalization": "再生事業者",
}


def _user(request: HttpRequest) -> User:
    return request_user(request)


def _application(request: HttpRequest, pk: int) -> Application:
    """The application, if this user may see it; otherwise the same 404 whether absent or forbidden."""
    try:
        return application_get(_user(request), pk)
    except DomainError as exc:
        raise Http404(exc.message) from None


def _plan_from(post: Any, frame_expenses: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted form as a plan document; amounts as people write them (1,500,000 / 150万)."""
    errors: dict[str, str] = {}
    expenses = []
    for code in frame_expenses:
        try:
            amount = _number(post.get(f"e_{code}", ""))
        except ValueError:
            errors[f"e_{code}"] = "数字で入力してください（例: 1,500,000 または 150万）"
            continue
        if amount:
            item: dict[str, Any] = {"category": code, "amount_yen": amount}
            if code == "software":
                if post.get("processes", "").isdigit():
                    item["processes"] = int(post["processes"])
                functions = [f for f in post.getlist("functions") if f in INVOICE_FUNCTIONS]
                if functions:
                    item["invoice_functions"] = functions
            expenses.append(item)
    commitments: dict[str, Any] = {"wage_increase_special": post.get("wage_special") == "1"}
    for key, name in (("planned_wage", "planned_min_hourly_wage_yen"),):
        try:
            value = _number(post.get(key, ""))
        except ValueError:
            errors[key] = "数字で入力してください"
            value = None
        if value is not None:
            commitments[name] = value
    for key, name in (("va_cagr", "value_added_cagr_pct"), ("pay_cagr", "payroll_cagr_pct")):
        text = post.get(key, "").strip()
        if text:
            commitments[name] = text
    business = {k: {"yes": True, "no": False}[post[k]] for k in FACTS if post.get(k) in ("yes", "no")}
    plan = {
        "purposes": [p for p in post.getlist("purposes") if p in PURPOSES],
        "expenses": expenses,
        "commitments": commitments,
        "business": business,
    }
    return plan, errors


def _context(
    app: Any, errors: dict[str, str] | None = None, problems: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    program = registry().programs[app.program]
    frame = program.frames[app.frame]
    amounts = {e["category"]: e["amount_yen"] for e in app.plan.get("expenses", [])}
    return {
        "app": app,
        "program": program,
        "frame": frame,
        "editable": app.state in services.EDITABLE,
        "purposes": [(p, PURPOSES[p]) for p in frame.purposes],
        "expenses": [(c, EXPENSE_CATEGORIES[c], amounts.get(c, "")) for c in frame.expenses],
        "facts": FACTS,
        "functions": INVOICE_FUNCTIONS,
        "errors": errors or {},
        "problems": problems or [],
        "receipt": services.receipt(app) if app.receipt_number else None,
        "State": State,
    }


@login_required
@require_POST
def application_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    try:
        org = organization_get(user, int(request.POST.get("organization", "0")))
        program, _, frame = request.POST.get("frame", "").partition("/")
        app = services.application_create(actor=user, organization=org, program=program, frame=frame)
    except (DomainError, ValueError) as exc:
        return render(
            request,
            "applications/error.html",
            {"message": getattr(exc, "message", "入力が正しくありません")},
            status=400,
        )
    return redirect("application-detail", app.pk)


@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    app = _application(request, pk)
    return render(request, "applications/detail.html", _context(app))


@login_required
@require_POST
def application_autosave(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    try:
        plan, errors = _plan_from(request.POST, registry().programs[app.program].frames[app.frame].expenses)
        if errors:
            return render(request, "applications/_status.html", {"app": app, "errors": errors}, status=422)
        app = services.application_autosave(
            actor=user, application=app, plan=plan, version=int(request.POST.get("version", "0"))
        )
    except DomainError as exc:
        status = 409 if exc.code == "conflict" else 400
        return render(request, "applications/_status.html", {"message": exc.message}, status=status)
    return render(request, "applications/_status.html", {"app": app, "saved": True})


@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise DomainError("empty", "ファイルを選んでください")
        services.attachment_add(
            actor=user, application=app, name=upload.name or "file", content=upload.read()
        )
    except DomainError as exc:
        return render(
            request,
            "applications/detail.html",
            _context(app, problems=[{"message": exc.message}]),
            status=400,
        )
    return redirect("application-detail", app.pk)


@login_required
@require_POST
def application_submit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    try:
        app = services.application_submit(actor=user, application=app)
    except DomainError as exc:
        problems = exc.errors or [{"message": exc.message}]
        if exc.errors:
            problems = [{"message": exc.message}, *exc.errors]
        return render(request, "applications/detail.html", _context(app, problems=problems), status=400)
    return redirect("application-detail", app.pk)
