"""Application pages, the applicant's side of the whole lifecycle.

Create a draft (also from a saved 診断), edit with autosave (backed up in the browser), attach,
submit, receipt; the status timeline from the audit log; 交付申請, the 実績報告 ledger, 取下げ with a
confirmation step, 計画変更 (the secretariat decides on its own page), and 様式4 issued by a consented
advisor. Every object is reached through `application_get` (a forbidden one is the same 404 as a
missing one); every write goes through a service. Every page is `never_cache` (Cache-Control: no-store):
the browser's back button reloads the application as it is now, never a stale page with live buttons.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from shien.accounts.models import Role, User
from shien.accounts.selectors import can_act_for, organization_get, request_user
from shien.applications import changes, postaward, services, workflow
from shien.applications.files import download, open_verified
from shien.applications.limits import LINE_MAX, TEXT_MAX, echo, too_long
from shien.applications.models import Application, ChangeRequest, Form4Issue, State
from shien.applications.selectors import application_get
from shien.core.errors import DomainError, http_status
from shien.core.models import AuditLog
from shien.navigator import saved as saved_diagnoses
from shien.navigator.services import _number, read_answers
from shien.rules import clock
from shien.rules.registry import Frame, registry
from shien.rules.vocab import EXPENSE_CATEGORIES, INVOICE_FUNCTIONS, MAX_YEN, PURPOSES

logger = logging.getLogger(__name__)
FACTS = {
    "labor_shortage": "人手不足の状態にある",
    "deficit": "赤字（直近1期の課税所得が0以下）",
    "revitalization": "再生事業者",
    "was_tax_exempt": "免税事業者である（であった）",
    "invoice_registered": "適格請求書発行事業者（インボイス）の登録を受けている",
}
# what the plan form shows; anything else in a plan (e.g. prefilled from a 診断) is kept as it is
FORM_COMMITMENTS = (
    "wage_increase_special",
    "planned_min_hourly_wage_yen",
    "value_added_cagr_pct",
    "payroll_cagr_pct",
)
FORM_BUSINESS = (*FACTS, "min_hourly_wage_yen")
STAFF = (Role.SECRETARIAT, Role.BUREAU)


def _user(request: HttpRequest) -> User:
    return request_user(request)


def _application(request: HttpRequest, pk: int) -> Application:
    """The application, if this user may see it; otherwise the same 404 whether absent or forbidden
    (`not_found`, the site's 404 page). A refusal after this links back to it (「申請へ戻る」)."""
    app = application_get(_user(request), pk)
    request.error_page = ("applications/error.html", {"app": app})  # type: ignore[attr-defined]
    return app


def _refuse(request: HttpRequest, message: str, status: int, app: Application | None = None) -> HttpResponse:
    """The refusal page; with the application (when there is one) it links back to it (「申請へ戻る」)."""
    return render(request, "applications/error.html", {"message": message, "app": app}, status=status)


def _is_staff(user: User) -> bool:
    return user.has_any_role(STAFF)


# -- the plan form ----------------------------------------------------------------------------------------


MAX_PROCESSES = 50  # the rules' schema: ITツールの業務プロセス数 is 1〜50
CAGR_RANGE = (Decimal(-100), Decimal(1000))  # the rules' schema: a growth plan of -100〜1000%
MINUS_SIGNS = ("-", "−", "‐", "ー", "▲", "△")


TOOL_EXPENSES = ("software", "cloud")  # the expense the form keeps ITツールの業務プロセス数 with


def _tool_expense(expenses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The plan's software expense (else its cloud one): where the processes and invoice functions go."""
    for code in TOOL_EXPENSES:
        item = next((e for e in expenses if e.get("category") == code), None)
        if item is not None:
            return item
    return None


def _processes(text: str) -> int | None:
    """ITツールの業務プロセス数 as people write it ('5', '５', '5個', '5プロセス') → int; '' → None; a
    ValueError with the Japanese message for anything else (never dropped without a word)."""
    value = unicodedata.normalize("NFKC", text or "").strip().replace(" ", "")
    for suffix in ("プロセス", "個", "件", "つ"):
        value = value.removesuffix(suffix)
    if not value:
        return None
    if not (value.isascii() and value.isdecimal() and len(value) <= 6 and 1 <= int(value) <= MAX_PROCESSES):
        raise ValueError(f"業務プロセス数は1〜{MAX_PROCESSES}の整数で入力してください（例: 5）")
    return int(value)


def _percent(text: str) -> str | None:
    """A growth rate in % as people write it ('3', '３．０', '1.5%', '▲0.5') → its decimal text ('3.0',
    '1.5', '-0.5', as the rules read it); '' → None; a ValueError with the Japanese message otherwise."""
    value = unicodedata.normalize("NFKC", text or "").strip().replace(" ", "")
    value = value.removesuffix("%").replace("。", ".")
    sign = ""
    if value.startswith(MINUS_SIGNS):
        sign, value = "-", value[1:]
    elif value.startswith("+"):
        value = value[1:]
    if not value and not text.strip():
        return None
    whole, dot, part = value.partition(".")
    digits = whole + part
    if not digits or not (digits.isascii() and digits.isdecimal()):
        raise ValueError("数値で入力してください（例: 3.0 または 3%）")
    if len(part.rstrip("0")) > 2:
        raise ValueError("小数点以下は2桁までで入力してください（例: 3.25）")
    if len(whole.lstrip("0")) > 4:
        raise ValueError("-100〜1000%の範囲で入力してください")
    number = Decimal(f"{sign}{whole or '0'}.{part[:2] or '0'}" if dot else f"{sign}{whole}")
    if not CAGR_RANGE[0] <= number <= CAGR_RANGE[1]:
        raise ValueError("-100〜1000%の範囲で入力してください")
    return str(number)


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
        if amount and amount > MAX_YEN:
            errors[f"e_{code}"] = f"金額が大きすぎます（{MAX_YEN:,}円以下で入力してください）"
            continue
        if amount:
            expenses.append({"category": code, "amount_yen": amount})
    if "software" in frame_expenses:
        try:
            processes = _processes(post.get("processes", ""))
        except ValueError as exc:
            errors["processes"] = str(exc)
            processes = None
        functions = [f for f in post.getlist("functions") if f in INVOICE_FUNCTIONS]
        tool = _tool_expense(expenses)
        if tool is not None:
            if processes is not None:
                tool["processes"] = processes
            if functions:
                tool["invoice_functions"] = functions
        elif (processes is not None or functions) and "e_software" not in errors:
            # kept only with a tool's amount: saving without it would drop them without a word
            names = "または".join(EXPENSE_CATEGORIES[c] for c in TOOL_EXPENSES if c in frame_expenses)
            errors["e_software"] = (
                f"{names}の金額を入力してください（業務プロセス数・インボイス対応の機能は、その金額とあわせて保存します）"
            )
    commitments: dict[str, Any] = {"wage_increase_special": post.get("wage_special") == "1"}
    business: dict[str, Any] = {}
    for key, target, name in (
        ("planned_wage", commitments, "planned_min_hourly_wage_yen"),
        ("min_wage", business, "min_hourly_wage_yen"),
    ):
        try:
            value = _number(post.get(key, ""))
        except ValueError:
            errors[key] = "数字で入力してください"
            value = None
        if value is not None and not 0 <= value <= 100_000:
            errors[key] = "時給は0〜100,000円の範囲で入力してください"
            value = None
        if value is not None:
            target[name] = value
    for key, name in (("va_cagr", "value_added_cagr_pct"), ("pay_cagr", "payroll_cagr_pct")):
        try:
            rate = _percent(post.get(key, ""))
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        if rate is not None:
            commitments[name] = rate
    business.update({k: {"yes": True, "no": False}[post[k]] for k in FACTS if post.get(k) in ("yes", "no")})
    plan = {
        "purposes": [p for p in post.getlist("purposes") if p in PURPOSES],
        "expenses": expenses,
        "commitments": commitments,
        "business": business,
    }
    return plan, errors


def plan_from_form(
    post: Any, frame: Frame, current: dict[str, Any], *, with_facts: bool = True
) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted form over the current plan: what the form does not show is kept, never dropped
    (without `with_facts` the business facts are not on the form and stay as they are)."""
    plan, errors = _plan_from(post, frame.expenses)
    if not with_facts:
        plan["business"] = {}
        errors.pop("min_wage", None)
    kept = {k: v for k, v in current.items() if k not in ("purposes", "expenses", "commitments", "business")}
    old_commitments = current.get("commitments") or {}
    old_business = current.get("business") or {}
    descriptions = {e.get("category"): e.get("description") for e in current.get("expenses") or []}
    for item in plan["expenses"]:
        if descriptions.get(item["category"]):
            item["description"] = descriptions[item["category"]]
    plan["commitments"] = {
        **{k: v for k, v in old_commitments.items() if k not in FORM_COMMITMENTS},
        **plan["commitments"],
    }
    shown = FORM_BUSINESS if with_facts else ()
    plan["business"] = {**{k: v for k, v in old_business.items() if k not in shown}, **plan["business"]}
    return {**kept, **plan}, errors


def _plan_fields(frame: Frame, plan: dict[str, Any], raw: Any = None) -> dict[str, Any]:
    """What the plan form shows: from the plan, or (after an error) exactly as typed."""
    amounts = {e["category"]: e["amount_yen"] for e in plan.get("expenses") or []}
    software = _tool_expense(plan.get("expenses") or []) or {}
    commitments = plan.get("commitments") or {}
    business = plan.get("business") or {}
    values = {
        "purposes": plan.get("purposes") or [],
        "planned_wage": commitments.get("planned_min_hourly_wage_yen", ""),
        "va_cagr": commitments.get("value_added_cagr_pct", ""),
        "pay_cagr": commitments.get("payroll_cagr_pct", ""),
        "wage_special": bool(commitments.get("wage_increase_special")),
        "min_wage": business.get("min_hourly_wage_yen", ""),
        "processes": software.get("processes", ""),
        "functions": software.get("invoice_functions") or [],
    }
    facts = {k: {True: "yes", False: "no"}.get(business.get(k), "") for k in FACTS}
    if raw is not None:
        amounts = {c: raw.get(f"e_{c}", "") for c in frame.expenses}
        values.update(
            {k: raw.get(k, "") for k in ("planned_wage", "va_cagr", "pay_cagr", "min_wage", "processes")}
        )
        values.update(
            purposes=raw.getlist("purposes"),
            functions=raw.getlist("functions"),
            wage_special=raw.get("wage_special") == "1",
        )
        facts = {k: raw.get(k, "") for k in FACTS}
    return {
        "purposes": [(p, PURPOSES[p]) for p in frame.purposes],
        "expenses": [(c, EXPENSE_CATEGORIES[c], amounts.get(c, "")) for c in frame.expenses],
        "facts": [(k, label, facts[k]) for k, label in FACTS.items()],
        "functions": INVOICE_FUNCTIONS,
        "software": "software" in frame.expenses,
        "values": values,
    }


# -- what the page shows: actions, timeline, 様式4, 差戻し ----------------------------------------------------

TIMELINE_LABELS = {
    "application.create": "下書きを作成",
    "application.change_plan": "計画変更を反映（交付決定額を見直し）",
    "form4.issue": "様式4（事業支援計画書）を交付",
    "change.request": "計画変更を申請",
    "change.approve": "計画変更を承認",
    "change.reject": "計画変更を不承認",
    "change.withdraw": "計画変更を取下げ",
}
# what applicants see of the audit log; the secretariat and the bureau see every row (not autosaves)
PUBLIC_AUDIT = ("application.", "form4.", "change.", "followup.")
ROLE_NAMES = {Role.SECRETARIAT: "事務局", Role.BUREAU: "経済産業局", Role.REVIEWER: "審査員"}


def _who(actor: User | None, staff_viewer: bool, applicant_viewer: bool = True) -> str:
    """Who acted: applicants see the office, not the person; a viewer who is neither the office nor
    the applicant (an assigned reviewer) sees neither the applicant's people nor their emails."""
    if actor is None:
        return "システム"
    roles = {r.role for r in actor.roles.all()}
    for role, name in ROLE_NAMES.items():
        if role in roles:
            return f"{name}（{actor}）" if staff_viewer else name
    if not (staff_viewer or applicant_viewer):
        return "支援者" if Role.ADVISOR in roles else "申請者"
    return f"{actor}（支援者）" if Role.ADVISOR in roles else str(actor)


def _what(row: AuditLog) -> str:
    if row.action in TIMELINE_LABELS:
        return TIMELINE_LABELS[row.action]
    kind, _, name = row.action.partition(".")
    if kind == "application" and name in workflow.ACTIONS:
        if name == "submit" and row.data.get("from") == State.RETURNED:
            return "再申請"
        label = workflow.ACTIONS[name].label
        return f"{label}（採択と同時に交付決定）" if row.data.get("adoption_is_grant") else label
    if kind == "followup":
        return "事業化状況報告・効果報告"
    return row.action


def timeline(user: User, app: Application) -> list[dict[str, Any]]:
    """The application's history from the audit log: when (和暦 with 西暦), who, what, why."""
    staff = _is_staff(user)
    applicant = can_act_for(user, app.organization)
    change_ids = [str(i) for i in app.change_requests.values_list("pk", flat=True)]
    rows = (
        AuditLog.objects.filter(
            Q(object_type="applications.application", object_id=str(app.pk))
            | Q(object_type="applications.changerequest", object_id__in=change_ids)
        )
        .exclude(action="application.save")
        .select_related("actor")
        .prefetch_related("actor__roles")
        .order_by("at", "id")
    )
    return [
        {
            "at": row.at,
            "who": _who(row.actor, staff, applicant),
            "what": _what(row),
            "detail": _detail(row),
            "reason": row.reason,
        }
        for row in rows
        if staff or row.action.startswith(PUBLIC_AUDIT)
    ]


DETAILS = (
    ("receipt_number", "受付番号 {}"),
    ("granted_yen", "交付決定額 {:,}円"),
    ("granted_after", "交付決定額 {:,}円"),
    ("total_yen", "報告額 {:,}円"),
    ("confirmed_yen", "確定額 {:,}円"),
    ("paid_yen", "支払額 {:,}円"),
    ("estimate_yen", "試算 {:,}円"),
)


def _detail(row: AuditLog) -> str:
    """The figure a step decided (receipt number, amounts), where its audit data has one."""
    for key, text in DETAILS:
        value = row.data.get(key)
        if value is not None and not (key == "estimate_yen" and row.action == "application.submit"):
            extra = "（報告期限後）" if key == "total_yen" and row.data.get("late") else ""
            return text.format(value) + extra
    return ""


def available_actions(user: User, app: Application) -> tuple[list[str], list[str]]:
    """The state machine's moves open to this user now: (the applicant's, the office's)."""
    mine, office = [], []
    for action in workflow.ACTIONS.values():
        if app.state in action.sources and workflow.may(user, action, app):
            (mine if workflow.APPLICANT in action.roles else office).append(action.name)
    return mine, [workflow.ACTIONS[n].label for n in office]


def _round(app: Application) -> Any:
    return registry().round(app.program, app.round_id)


def _form4(user: User, app: Application) -> dict[str, Any] | None:
    if not services.needs_form4(app.program):
        return None
    window = _round(app)
    consented = app.organization.advisor_consents.filter(advisor=user, revoked_at__isnull=True).exists()
    issued = Form4Issue.objects.filter(application=app).select_related("advisor").first()
    return {
        "issued": issued,
        "deadline": window.form4_deadline if window else None,
        "can_issue": issued is None
        and app.state in services.EDITABLE
        and consented
        and user.has_role(Role.ADVISOR),
    }


def _returned(app: Application) -> AuditLog | None:
    if app.state != State.RETURNED:
        return None
    return (
        AuditLog.objects.filter(
            object_type="applications.application", object_id=str(app.pk), action="application.return"
        )
        .order_by("-at", "-id")
        .first()
    )


def _context(
    request: HttpRequest,
    app: Application,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    user = _user(request)
    program = registry().programs[app.program]
    frame = program.frames[app.frame]
    acting = can_act_for(user, app.organization)
    mine, office = available_actions(user, app)
    change_list = list(
        app.change_requests.select_related("requested_by", "decided_by").order_by("-requested_at")
    )
    from shien.applications import followup

    return {
        "app": app,
        "program": program,
        "frame": frame,
        "followup_url": reverse("followup", args=[app.pk])
        if app.state in followup.SCHEDULE_STATES and followup.program_spec(app)
        else None,
        "editable": app.state in services.EDITABLE and acting,
        "acting": acting,
        "staff": _is_staff(user),
        "secretariat": user.has_role(Role.SECRETARIAT),
        "plan_form": _plan_fields(frame, app.plan),
        "errors": errors or {},
        "problems": problems or [],
        "receipt": services.receipt(app) if app.receipt_number else None,
        "actions": mine,
        "office_actions": office,
        "timeline": timeline(user, app),
        "returned": _returned(app),
        "form4": _form4(user, app),
        "changes": change_list,
        "pending_change": next((c for c in change_list if c.status == ChangeRequest.Status.PENDING), None),
        "lines": list(app.expense_lines.select_related("evidence").order_by("pk")),
        "attachments": list(app.attachments.order_by("uploaded_at", "pk")),
        "report_deadline": postaward.report_deadline(app),
        "report_late": app.state == State.GRANTED and postaward.report_is_late(app),
        "categories": EXPENSE_CATEGORIES,
        "State": State,
    }


# -- draft, autosave, attachments, submission -------------------------------------------------------------


def _new_key() -> str:
    return secrets.token_urlsafe(16)


@never_cache
@login_required
@require_POST
def application_new(request: HttpRequest) -> HttpResponse:
    app = _create_from_post(request, _user(request))
    if isinstance(app, HttpResponse):
        return app
    return redirect("application-detail", app.pk)


def _create_from_post(request: HttpRequest, user: User, diagnosis: Any = None) -> Application | HttpResponse:
    """A draft for the posted organization and frame (prefilled from a saved 診断 when given), or the
    refusal page; the form's idempotency key makes a double click one draft."""
    try:
        org = organization_get(user, int(request.POST.get("organization", "0")))
        program, _, frame = request.POST.get("frame", "").partition("/")
        return services.application_create(
            actor=user,
            organization=org,
            program=program,
            frame=frame,
            diagnosis=diagnosis,
            idempotency_key=request.POST.get("idempotency_key", ""),
        )
    except ValueError:
        return _refuse(request, "事業者と枠を選んでください", 400)


@never_cache
@login_required
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    app = _application(request, pk)
    return render(request, "applications/detail.html", _context(request, app))


def login_required_or_403(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Like login_required, but a background (htmx) request of an expired session gets a 403 it can
    show, instead of a redirect the browser would follow to the login page's HTML."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and request.headers.get("HX-Request"):
            message = "ログインの有効期限が切れたため保存できませんでした。もう一度ログインしてください"
            response = render(request, "applications/_status.html", {"message": message}, status=403)
            response["X-Login-Required"] = "1"
            return response
        return login_required(view)(request, *args, **kwargs)

    return wrapped


def _form_again(
    request: HttpRequest,
    app: Application,
    status: int,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
) -> HttpResponse:
    """The application page with the form exactly as posted (the form without JavaScript): nothing typed
    is lost, each refused value has its message at its field."""
    frame = registry().programs[app.program].frames[app.frame]
    context = _context(request, app, errors=errors, problems=problems)
    context["plan_form"] = _plan_fields(frame, app.plan, request.POST)
    return render(request, "applications/detail.html", context, status=status)


def _estimate_problem(app: Application) -> str:
    """Why a saved draft has no 試算 (a value the rules cannot read), '' when it has one or none is due."""
    if app.estimate_yen is not None:
        return ""
    try:
        services.profile_for(app, clock.now())
    except DomainError as exc:
        details = [f"{e['label']}: {e['message']}" if e.get("label") else e["message"] for e in exc.errors]
        return "試算できません（" + "、".join(details or [exc.message]) + "）"
    return ""


@never_cache
@login_required_or_403
@require_POST
def application_autosave(request: HttpRequest, pk: int) -> HttpResponse:
    """The form saved whole or not at all: a value the form cannot keep as typed (not a number, out of
    range, or only kept with another field) refuses the save with its message at its field; 「保存しました」
    is said only when everything typed was saved."""
    user = _user(request)
    app = _application(request, pk)
    htmx = bool(request.headers.get("HX-Request"))
    try:
        frame = registry().programs[app.program].frames[app.frame]
        plan, errors = plan_from_form(request.POST, frame, app.plan)
        if errors:
            if not htmx:
                problems = [{"message": "保存できませんでした。入力内容を確認してください"}]
                return _form_again(request, app, 422, errors=errors, problems=problems)
            return render(request, "applications/_status.html", {"app": app, "errors": errors}, status=422)
        version = request.POST.get("version", "0").strip()
        if not (version.isdecimal() and len(version) <= 9):
            raise DomainError("conflict", "画面を読み込み直してから、もう一度保存してください")
        app = services.application_autosave(actor=user, application=app, plan=plan, version=int(version))
    except DomainError as exc:  # the form again, as typed
        status = http_status(exc)
        if not htmx:
            return _form_again(request, app, status, problems=[{"message": exc.message}])
        return render(request, "applications/_status.html", {"message": exc.message}, status=status)
    if not htmx:  # the form without JavaScript
        messages.success(request, "保存しました")
        return redirect("application-detail", app.pk)
    return render(
        request,
        "applications/_status.html",
        {"app": app, "saved": True, "estimate_problem": _estimate_problem(app)},
    )


def _read(upload: Any) -> bytes:
    """An uploaded file's bytes, at most one more than an attachment may have: a larger file is refused
    by the size check without being read into memory whole."""
    return bytes(upload.read(services.MAX_ATTACHMENT_BYTES + 1))


@never_cache
@login_required
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """POST a file to attach it (download: attachments/<id>/, delete: attachments/<id>/delete/)."""
    user = _user(request)
    app = _application(request, pk)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise DomainError("empty", "ファイルを選んでください")
        attachment = services.attachment_add(
            actor=user,
            application=app,
            name=upload.name or "file",
            content=_read(upload),
            refuse_duplicate=True,
        )
    except DomainError as exc:
        if exc.code == "duplicate":  # nothing to do, but the user is told which attachment it is
            messages.info(request, exc.message)
            return redirect(reverse("application-detail", args=[app.pk]) + "#att")
        return render(
            request,
            "applications/detail.html",
            _context(request, app, problems=[{"message": exc.message}]),
            status=http_status(exc),
        )
    messages.success(request, f"「{attachment.name}」を添付しました")
    return redirect(reverse("application-detail", args=[app.pk]) + "#att")


@never_cache
@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    """One of the application's files, for those who act for its business (members, consented advisors;
    the office has its own page), as uploaded and only if its SHA-256 still matches."""
    user = _user(request)
    app = _application(request, pk)
    if not can_act_for(user, app.organization):
        raise Http404("ファイルが見つかりません")
    attachment = app.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("ファイルが見つかりません")
    handle = open_verified(attachment)
    if handle is None:
        message = "このファイルは保存後に変更された可能性があるため、表示できません。事務局に連絡してください"
        return _refuse(request, message, 409, app)
    return download(attachment, handle)  # named and typed after the detected type


@never_cache
@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    removed = services.attachment_delete(actor=user, application=app, attachment_id=attachment_id)
    if removed is None:
        messages.info(request, "この添付ファイルはすでに削除されています")
    else:
        messages.success(request, f"「{removed.name}」を削除しました")
    return redirect(reverse("application-detail", args=[app.pk]) + "#att")


@never_cache
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
        return render(
            request,
            "applications/detail.html",
            _context(request, app, problems=problems),
            status=http_status(exc),
        )
    return redirect("application-detail", app.pk)


# -- 様式4, 交付申請 ------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_POST
def form4_issue(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    services.form4_issue(actor=user, application=app, comment=request.POST.get("comment", ""))
    messages.success(request, "様式4（事業支援計画書）を交付しました")
    return redirect("application-detail", app.pk)


@never_cache
@login_required
@require_POST
def grant_request(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    postaward.grant_request(actor=user, application=app)
    messages.success(request, "交付申請を受け付けました。交付決定をお待ちください")
    return redirect("application-detail", app.pk)


# -- 実績報告 -----------------------------------------------------------------------------------------------

LEDGER_MIN_ROWS = 3
LEDGER_MAX_ROWS = 100


def _row(n: int, category: str = "") -> dict[str, Any]:
    return {
        "n": n,
        "category": category,
        "description": "",
        "amount": "",
        "evidence": "",
        "errors": [],
        "bad": set(),
    }


def _error(row: dict[str, Any], field: str, message: str) -> None:
    row["errors"].append(message)
    row["bad"].add(field)


def _ledger_context(
    app: Application, rows: list[dict[str, Any]], problems: list[str] | None = None
) -> dict[str, Any]:
    frame = registry().programs[app.program].frames[app.frame]
    total = 0
    for row in rows:
        try:
            total += _number(row["amount"]) or 0
        except ValueError:
            pass
    return {
        "app": app,
        "program": registry().programs[app.program],
        "frame": frame,
        "categories": [(c, EXPENSE_CATEGORIES[c]) for c in frame.expenses],
        "attachments": list(app.attachments.order_by("uploaded_at", "pk")),
        "rows": rows,
        "problems": problems or [],
        "row_errors": [(row["n"], e) for row in rows for e in row["errors"]],
        "total": total,
        "report_deadline": postaward.report_deadline(app),
        "report_late": postaward.report_is_late(app),
        "pending_change": app.change_requests.filter(status=ChangeRequest.Status.PENDING).first(),
    }


def _ledger_rows(request: HttpRequest) -> list[dict[str, Any]]:
    try:
        count = max(1, min(int(request.POST.get("rows", "0")), LEDGER_MAX_ROWS))
    except ValueError:
        count = LEDGER_MIN_ROWS
    rows = []
    for n in range(1, count + 1):
        row = _row(n, request.POST.get(f"category-{n}", ""))
        row["description"] = request.POST.get(f"description-{n}", "").strip()
        row["amount"] = request.POST.get(f"amount-{n}", "").strip()[:30]
        row["evidence"] = request.POST.get(f"evidence-{n}", "")
        row["file"] = request.FILES.get(f"file-{n}")
        rows.append(row)
    return rows


def _planned(app: Application, frame: Frame) -> list[str]:
    """The expense categories of the plan (in the plan's order), one ledger row each to begin with."""
    return [e["category"] for e in app.plan.get("expenses") or [] if e.get("category") in frame.expenses]


def _shown_again(
    app: Application, frame: Frame, filled: list[dict[str, Any]], rows: list[dict[str, Any]], *, add: int = 0
) -> list[dict[str, Any]]:
    """The ledger shown again, losing nothing: the rows filled in (numbered as the report will number
    them), the rows where only a category was chosen, a row for each planned category none of these
    has (as the first showing offered them), `add` blank rows, and blank rows up to `LEDGER_MIN_ROWS`."""
    kept = {id(r) for r in filled}
    shown = [*filled, *(r for r in rows if id(r) not in kept and r["category"] in frame.expenses)]
    have = Counter(r["category"] for r in shown)
    for category in _planned(app, frame):
        if have[category]:
            have[category] -= 1
        else:
            shown.append(_row(0, category))
    shown += [_row(0) for _ in range(add)]
    while len(shown) < LEDGER_MIN_ROWS:
        shown.append(_row(0))
    for n, row in enumerate(shown, 1):
        row["n"] = n
        row["description"] = echo(row.get("description", ""), LINE_MAX)  # not a pasted megabyte whole
    return shown


def _check_row(row: dict[str, Any], frame: Frame, evidence: set[str]) -> None:
    if row["category"] not in frame.expenses:
        _error(row, "category", "経費区分を選んでください")
    if not row["description"]:
        _error(row, "description", "内容を入力してください")
    try:
        amount = _number(row["amount"])
    except ValueError:
        _error(row, "amount", "金額は数字で入力してください（例: 1,234,000 または 123万）")
    else:
        if not amount:
            _error(row, "amount", "金額を入力してください（1円以上）")
        elif amount > MAX_YEN:
            _error(row, "amount", "金額が大きすぎます。税抜の金額を円で入力してください")
        row["amount_yen"] = amount
    if not row["evidence"]:
        _error(
            row,
            "evidence",
            "証憑（見積書・請求書・領収書など）のファイルを添付するか、添付済みのファイルから選んでください",
        )
    elif row["evidence"] not in evidence:
        _error(row, "evidence", "選んだ証憑のファイルが見つかりません")


@never_cache
@login_required
def results_report(request: HttpRequest, pk: int) -> HttpResponse:
    """実績報告: an expense ledger, a row per expense with its evidence (a new file or an attached one)."""
    user = _user(request)
    app = _application(request, pk)
    if not workflow.may(user, workflow.ACTIONS["report_results"], app):
        return _refuse(request, "この申請の実績報告をする権限がありません", 403, app)
    if app.state != State.GRANTED:
        if app.state == State.RESULTS_REPORTED:
            messages.info(request, "実績報告は受付済みです")
            return redirect("application-detail", app.pk)
        return _refuse(request, f"「{State(app.state).label}」の申請は実績報告できません", 409, app)
    frame = registry().programs[app.program].frames[app.frame]
    if request.method != "POST":
        return render(
            request, "applications/report.html", _ledger_context(app, _shown_again(app, frame, [], []))
        )
    rows = _ledger_rows(request)
    # files first: an uploaded file becomes an attachment at once, so an error elsewhere loses nothing
    for row in rows:
        upload = row.pop("file")
        if upload is None:
            continue
        try:
            attachment = services.attachment_add(
                actor=user, application=app, name=upload.name or "file", content=_read(upload)
            )
        except DomainError as exc:
            _error(row, "evidence", f"証憑のファイル: {exc.message}")
        else:
            row["evidence"] = attachment.sha256
    filled = [r for r in rows if r["description"] or r["amount"] or r["evidence"] or r["errors"]]
    for n, row in enumerate(filled, 1):  # numbered as the report will number them
        row["n"] = n
    if "add_row" in request.POST:
        shown = _shown_again(app, frame, filled, rows, add=1)
        return render(request, "applications/report.html", _ledger_context(app, shown))
    evidence = set(app.attachments.values_list("sha256", flat=True))
    for row in filled:
        _check_row(row, frame, evidence)
    problems = [] if filled else ["経費の明細を1行以上入力してください"]
    if problems or any(r["errors"] for r in filled):
        shown = _shown_again(app, frame, filled, rows)
        return render(
            request, "applications/report.html", _ledger_context(app, shown, problems or None), status=422
        )
    lines = [
        {"category": r["category"], "description": r["description"], "amount_yen": r["amount_yen"],
         "evidence_sha256": r["evidence"]}
        for r in filled
    ]  # fmt: skip
    try:
        postaward.results_report(actor=user, application=app, lines=lines)
    except DomainError as exc:
        if exc.code == "invalid_state" and Application.objects.get(pk=app.pk).state == State.RESULTS_REPORTED:
            messages.info(request, "実績報告は受付済みです")  # a second click: the first report stands
            return redirect("application-detail", app.pk)
        return render(
            request,
            "applications/report.html",
            _ledger_context(app, _shown_again(app, frame, filled, rows), [exc.message]),
            status=http_status(exc),
        )
    messages.success(request, "実績報告を受け付けました。事務局の確定検査をお待ちください")
    return redirect("application-detail", app.pk)


# -- 取下げ -------------------------------------------------------------------------------------------------


@never_cache
@login_required
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """取下げ in two steps: the reason, then a confirmation showing it; the last step withdraws."""
    user = _user(request)
    app = _application(request, pk)
    action = workflow.ACTIONS["withdraw"]
    if app.state == State.WITHDRAWN and request.method == "POST":
        return redirect("application-detail", app.pk)  # a second click on the last step
    if not workflow.may(user, action, app):
        return _refuse(request, "この申請を取り下げる権限がありません", 403, app)
    if app.state == State.WITHDRAWN:  # e.g. the back button after the last step: the application as it is
        messages.info(request, "この申請は取り下げ済みです")
        return redirect("application-detail", app.pk)
    if app.state not in action.sources:
        return _refuse(request, f"「{State(app.state).label}」の申請は取り下げられません", 409, app)
    reason = request.POST.get("reason", "").strip() if request.method == "POST" else ""
    step = request.POST.get("step", "") if request.method == "POST" else ""
    context: dict[str, Any] = {
        "app": app, "program": registry().programs[app.program], "reason": echo(reason, TEXT_MAX)
    }  # fmt: skip
    if step in ("confirm", "withdraw") and not reason:
        context["error"] = "取下げの理由を入力してください"
        return render(request, "applications/withdraw.html", context, status=422)
    if step in ("confirm", "withdraw") and len(reason) > TEXT_MAX:  # told before the confirmation step
        context["error"] = too_long("取下げの理由", TEXT_MAX, len(reason))
        return render(request, "applications/withdraw.html", context, status=422)
    if step == "confirm":
        context["confirming"] = True
        return render(request, "applications/withdraw.html", context)
    if step == "withdraw":
        try:
            services.application_withdraw(actor=user, application=app, reason=reason)
        except DomainError as exc:
            context["error"] = exc.message
            return render(request, "applications/withdraw.html", context, status=http_status(exc))
        messages.success(request, "申請を取り下げました")
        return redirect("application-detail", app.pk)
    return render(request, "applications/withdraw.html", context)


# -- 計画変更 -----------------------------------------------------------------------------------------------


def _change_context(app: Application, plan_form: dict[str, Any], **extra: Any) -> dict[str, Any]:
    program = registry().programs[app.program]
    return {
        "app": app,
        "program": program,
        "frame": program.frames[app.frame],
        "plan_form": plan_form,
        "editable": True,
        "errors": {},
        **extra,
    }


@never_cache
@login_required
def change_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The applicant's 計画変更: the plan as it should be, and why. 「試算する」 shows the engine's new
    amount beside the 交付決定額 (which never rises) before anything is sent."""
    user = _user(request)
    app = _application(request, pk)
    if not can_act_for(user, app.organization):
        return _refuse(request, "この申請の計画変更を申請する権限がありません", 403, app)
    if app.state != State.GRANTED:
        return _refuse(request, "計画変更は、交付決定の後、実績報告の前に申請できます", 409, app)
    frame = registry().programs[app.program].frames[app.frame]
    pending = app.change_requests.filter(status=ChangeRequest.Status.PENDING).first()
    if request.method != "POST":
        return render(
            request,
            "applications/change_new.html",
            _change_context(app, _plan_fields(frame, app.plan), pending=pending, reason=""),
        )
    plan, errors = plan_from_form(request.POST, frame, app.plan, with_facts=False)
    reason = request.POST.get("reason", "").strip()
    context = _change_context(
        app,
        _plan_fields(frame, plan, request.POST),
        pending=pending,
        reason=echo(reason, TEXT_MAX),
        errors=errors,
    )
    if errors:
        return render(request, "applications/change_new.html", context, status=422)
    try:
        amount, failed = changes.estimate_for(app, plan)
    except DomainError as exc:
        context["problems"] = [{"message": exc.message}, *exc.errors]
        return render(request, "applications/change_new.html", context, status=422)
    granted = app.granted_yen or 0
    context["preview"] = {"estimate": amount, "failed": failed, "after": min(granted, amount)}
    if "preview" in request.POST:
        return render(request, "applications/change_new.html", context)
    try:
        changes.change_request(actor=user, application=app, plan=plan, reason=reason)
    except DomainError as exc:
        context["problems"] = [{"message": exc.message}, *exc.errors]
        return render(request, "applications/change_new.html", context, status=http_status(exc))
    messages.success(request, "計画変更を申請しました。事務局の判断をお待ちください")
    return redirect(reverse("application-detail", args=[app.pk]) + "#changes")


@never_cache
@login_required
@require_POST
def change_withdraw(request: HttpRequest, pk: int, change_id: int) -> HttpResponse:
    user = _user(request)
    app = _application(request, pk)
    change = app.change_requests.filter(pk=change_id).first()
    if change is None:
        raise Http404("計画変更が見つかりません")
    changes.change_withdraw(actor=user, change=change)
    messages.success(request, "計画変更を取り下げました")
    return redirect(reverse("application-detail", args=[app.pk]) + "#changes")


def _plan_rows(frame: Frame, before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    old = {e["category"]: e["amount_yen"] for e in before.get("expenses") or []}
    new = {e["category"]: e["amount_yen"] for e in after.get("expenses") or []}
    codes = [c for c in frame.expenses if c in old or c in new]
    return [(EXPENSE_CATEGORIES.get(c, c), old.get(c), new.get(c)) for c in codes]


@never_cache
@login_required
def change_decide(request: HttpRequest, pk: int, change_id: int) -> HttpResponse:
    """The secretariat's decision on a 計画変更 (the bureau may read it); nobody else finds the page."""
    user = _user(request)
    if not _is_staff(user):
        raise Http404("計画変更が見つかりません")
    app = _application(request, pk)
    change = app.change_requests.select_related("requested_by", "decided_by").filter(pk=change_id).first()
    if change is None:
        raise Http404("計画変更が見つかりません")
    frame = registry().programs[app.program].frames[app.frame]
    secretariat = user.has_role(Role.SECRETARIAT)
    context = {
        "app": app,
        "program": registry().programs[app.program],
        "frame": frame,
        "change": change,
        "rows": _plan_rows(frame, app.plan if change.status == "pending" else {}, change.plan),
        "purposes": [PURPOSES.get(p, p) for p in change.plan.get("purposes") or []],
        "after": min(app.granted_yen or 0, change.estimate_yen or 0),
        "can_decide": secretariat and change.status == ChangeRequest.Status.PENDING,
        "note": "",
    }
    if request.method != "POST":
        return render(request, "applications/change_decide.html", context)
    if not secretariat:
        return _refuse(request, "計画変更を承認・不承認できるのは事務局です", 403, app)
    decision = request.POST.get("decision", "")
    note = request.POST.get("note", "").strip()
    if decision not in ("approve", "reject"):
        context.update(error="承認するか不承認にするかを選んでください", note=echo(note, TEXT_MAX))
        return render(request, "applications/change_decide.html", context, status=422)
    try:
        changes.change_decide(actor=user, change=change, approve=decision == "approve", note=note)
    except DomainError as exc:
        context.update(error=exc.message, note=echo(note, TEXT_MAX))
        return render(request, "applications/change_decide.html", context, status=http_status(exc))
    messages.success(
        request, "計画変更を承認しました" if decision == "approve" else "計画変更を不承認としました"
    )
    return redirect("change-decide", app.pk, change.pk)


# -- saved 診断 → application ---------------------------------------------------------------------------------


def _create_from_diagnosis(request: HttpRequest, user: User, saved: Any) -> HttpResponse:
    app = _create_from_post(request, user, diagnosis=saved)
    if isinstance(app, HttpResponse):
        return app
    messages.success(request, "診断結果の内容で申請の下書きを作成しました。内容を確かめてください")
    return redirect("application-detail", app.pk)


@never_cache
@login_required
@require_POST
def diagnosis_apply(request: HttpRequest) -> HttpResponse:
    """「この枠で申請を作成」 on the 診断 result: save the result (idempotent), then the prefilled draft."""
    user = _user(request)
    answers = read_answers(request.POST)
    if answers.errors or answers.profile is None:
        return _refuse(request, "診断の回答に誤りがあります。診断をやり直してください", 400)
    saved = saved_diagnoses.diagnosis_save(user=user, values=answers.values, profile=answers.profile)
    return _create_from_diagnosis(request, user, saved)


@never_cache
@login_required
@require_POST
def diagnosis_apply_saved(request: HttpRequest, diagnosis_id: int) -> HttpResponse:
    from shien.navigator.models import SavedDiagnosis

    user = _user(request)
    saved = SavedDiagnosis.objects.filter(user=user, pk=diagnosis_id).first()
    if saved is None:
        raise Http404("保存した診断結果が見つかりません")
    return _create_from_diagnosis(request, user, saved)


@never_cache
@login_required
@require_POST
def diagnosis_delete(request: HttpRequest, diagnosis_id: int) -> HttpResponse:
    saved_diagnoses.diagnosis_delete(user=_user(request), diagnosis_id=diagnosis_id)
    messages.success(request, "保存した診断結果を削除しました")
    return redirect(reverse("mypage") + "#diagnoses")


# -- マイページ ----------------------------------------------------------------------------------------------


def _acting(user: User) -> QuerySet[Application]:
    """Applications of the organizations the user acts for (member, or advisor with consent)."""
    return Application.objects.filter(
        Q(organization__memberships__user=user)
        | Q(
            organization__advisor_consents__advisor=user,
            organization__advisor_consents__revoked_at__isnull=True,
        )
    ).distinct()


def _saved_diagnoses(user: User) -> list[dict[str, Any]]:
    """The user's saved 診断, each with the frames it found eligible that have a round open to apply."""
    from django.http import QueryDict
    from pydantic import ValidationError

    from shien.navigator.models import SavedDiagnosis
    from shien.rules.engine import estimate
    from shien.rules.frames.base import rounds_at
    from shien.rules.schema import Profile

    saved, profiles = [], []
    for diagnosis in SavedDiagnosis.objects.filter(user=user)[:20]:
        try:
            profiles.append(Profile.model_validate(diagnosis.profile))
        except ValidationError:  # saved under an older schema: listed, without frames to apply for
            profiles.append(None)
        saved.append(diagnosis)
    at = clock.now()
    valid = [p for p in profiles if p is not None]
    documents = iter(estimate(valid, as_of=at) if valid else [])
    current = rounds_at(at)
    out = []
    for diagnosis, profile in zip(saved, profiles, strict=True):
        results = next(documents)["results"] if profile is not None else []
        frames = [
            (f"{r['program']}/{r['frame']}", f"{r['program_name']} {r['frame_name']}", r["subsidy_yen"])
            for r in results
            if r["kind"] == "grant"
            and r["eligible"]
            and getattr(current.get(f"{r['program']}/{r['frame']}"), "round", None)
        ]
        query = QueryDict(mutable=True)
        for key, value in diagnosis.answers.items():
            query.setlist(key, value if isinstance(value, list) else [value])
        out.append({"diagnosis": diagnosis, "frames": frames, "query": query.urlencode()})
    return out


def mypage_context(user: User) -> dict[str, Any]:
    """What マイページ adds for the applicant's lifecycle: drafts, applications by state, saved 診断,
    and for advisors the consenting businesses' 持続化 drafts waiting for 様式4; for the office the
    pending 計画変更."""
    acting = _acting(user).select_related("organization")
    order = {s.value: i for i, s in enumerate(State)}
    started = sorted(
        acting.exclude(state__in=(State.DRAFT, State.RETURNED)).order_by("-updated_at")[:100],
        key=lambda a: order[a.state],
    )
    form4_waiting = []
    if user.has_role(Role.ADVISOR):
        waiting = (
            Application.objects.filter(
                organization__advisor_consents__advisor=user,
                organization__advisor_consents__revoked_at__isnull=True,
                program__in=[p.id for p in registry().programs.values() if p.support_plan_required],
                state__in=services.EDITABLE,
                form4__isnull=True,
            )
            .select_related("organization")
            .distinct()
            .order_by("updated_at")
        )
        form4_waiting = [(a, getattr(_round(a), "form4_deadline", None)) for a in waiting]
    pending_changes: Any = []
    if _is_staff(user):
        pending_changes = (
            ChangeRequest.objects.filter(status=ChangeRequest.Status.PENDING)
            .select_related("application__organization")
            .order_by("requested_at")[:50]
        )
    return {
        "drafts": acting.filter(state__in=(State.DRAFT, State.RETURNED)).order_by("-updated_at")[:50],
        "started": started,
        "diagnoses": _saved_diagnoses(user),
        "form4_waiting": form4_waiting,
        "pending_changes": pending_changes,
        "idempotency_key": _new_key(),
        "frame_names": {
            f"{p.id}/{f.id}": f"{p.short_name} {f.name}"
            for p in registry().programs.values()
            for f in p.frames.values()
        },
        "round_names": {p.id: {r.id: r.name for r in p.rounds} for p in registry().programs.values()},
    }
