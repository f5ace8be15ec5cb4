"""Follow-up pages: the report schedule, the 基準年度 and yearly report forms with their automatic checks
and refund, the secretariat's read-only list, and the iCalendar feeds of each grant's report windows.

Applicants (members, advisors with consent) submit; the secretariat and the bureau read. Anyone else
gets the same 404 as for a missing application. The personal calendar feed is reached without a
session through a signed token (see `calendar_token`).
"""

from __future__ import annotations

import hmac
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from icalendar import Alarm, Event

from shien.accounts.models import User
from shien.accounts.selectors import STAFF_ROLES, can_act_for, request_user
from shien.applications import followup
from shien.applications.models import Application, FollowUpReport
from shien.applications.selectors import application_get, applications_for
from shien.core.calendars import calendar_response
from shien.core.errors import DomainError, http_status
from shien.rules import clock
from shien.rules.registry import JST, registry
from shien.rules.text import parse_yen, wareki_date
from shien.rules.vocab import MAX_YEN

CALENDAR_SALT = "shien.calendar.user"
AMOUNT_MESSAGE = "金額を数字で入力してください（例: 1,234,000、123万 または 1.5億。損失は ▲50万）"
TOO_LARGE = f"金額が大きすぎます（{MAX_YEN:,}円以下で入力してください）"
NEGATIVE_SIGNS = ("-", "−", "▲", "△")
OPTIONAL = ("employees", "sales_yen")


# -- access ---------------------------------------------------------------------------------------------


def _is_staff(user: User) -> bool:
    return user.has_any_role(STAFF_ROLES)


def _access(request: HttpRequest, pk: int) -> tuple[User, Application, bool, followup.Spec]:
    """(user, application, may act, report spec): members and consented advisors act, staff read,
    others get 404 (as for an application without follow-up reports)."""
    user = request_user(request)
    application = application_get(user, pk)  # not_found: the 404 page
    acts = can_act_for(user, application.organization)
    if not acts and not _is_staff(user):
        raise Http404("申請が見つかりません")
    spec = followup.program_spec(application)
    if spec is None:
        raise Http404("この補助金には事業化状況報告・効果報告がありません")
    return user, application, acts, spec


# -- the form -------------------------------------------------------------------------------------------


def parse_amount(text: str, *, negative: bool = False) -> int | None:
    """'1,234,000' / '123万' / '１２３万円' / '5億' / '1.5億円' (and '▲50万' where a loss is possible) → int;
    '' → None. The one amount reader (`rules.text.parse_yen`), so every amount field reads 万 and 億 alike;
    a ValueError (its message in Japanese) for anything else."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    sign = 1
    if negative and value.startswith(NEGATIVE_SIGNS):
        sign, value = -1, value[1:].strip()
    if not value:
        if sign < 0:
            raise ValueError(AMOUNT_MESSAGE)
        return None
    try:
        number = parse_yen(value, limit=None)
    except (DomainError, ValueError):
        raise ValueError(AMOUNT_MESSAGE) from None
    if number > MAX_YEN:
        raise ValueError(TOO_LARGE)
    return sign * number


def parse_day(text: str) -> date | None:
    value = unicodedata.normalize("NFKC", text or "").strip().replace("/", "-")
    if not value:
        return None
    year, month, day = (int(part) for part in value.split("-"))
    return date(year, month, day)


def figures_from(
    post: Any, spec: followup.Spec
) -> tuple[followup.Figures | None, dict[str, str], dict[str, str]]:
    """The posted figures, the values as typed (kept on error) and one Japanese message per field."""
    values = {name: str(post.get(name, "")) for name in followup.LABELS}
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    try:
        parsed["fiscal_year_end"] = parse_day(values["fiscal_year_end"])
    except (ValueError, OverflowError):  # OverflowError: a year too large for date()
        errors["fiscal_year_end"] = "日付で入力してください（例: 2025-03-31）"
    for name in followup.AMOUNT_FIELDS + ("sales_yen",):
        try:
            parsed[name] = parse_amount(values[name], negative=name == "operating_profit_yen")
        except ValueError as exc:
            errors[name] = str(exc)
    for name, low in (("min_wage_yen", 1), ("employees", 0)):
        text = unicodedata.normalize("NFKC", values[name]).replace(",", "").strip().rstrip("円人")
        if not text:
            parsed[name] = None
        elif not text.isdecimal() or len(text) > 7 or not low <= int(text) <= 1_000_000:
            errors[name] = "整数で入力してください" if name == "employees" else "時給を円で入力してください"
        else:
            parsed[name] = int(text)
    required = [n for n in followup.LABELS if n not in OPTIONAL] + list(spec.required)
    for name in required:
        if name not in errors and parsed.get(name) is None:
            errors[name] = f"{followup.LABELS[name]}を入力してください"
    if "employees" in spec.required and parsed.get("employees") == 0:
        errors["employees"] = "従業員数は1人以上で入力してください（労働生産性の計算に用います）"
    if errors:
        return None, values, errors
    return followup.Figures(**parsed), values, errors


def _fields(spec: followup.Spec) -> list[dict[str, Any]]:
    hints = {
        "fiscal_year_end": "報告する事業年度の末日",
        "operating_profit_yen": "損失のときは ▲ を付けて入力（例: ▲50万）",
        "min_wage_yen": "事業場内で最も低い時間給（円）",
        "employees": "常時使用する従業員の数",
    }
    return [
        {
            "name": name,
            "label": label,
            "required": name not in OPTIONAL or name in spec.required,
            "hint": hints.get(name, "円（例: 1,234,000、123万 または 1.5億）"),
            "kind": "date" if name == "fiscal_year_end" else "number",
        }
        for name, label in followup.LABELS.items()
    ]


def _context(
    request: HttpRequest,
    application: Application,
    acts: bool,
    spec: followup.Spec,
    *,
    forms: dict[int, dict[str, Any]] | None = None,
    problems: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    forms = forms or {}
    at = clock.now()
    schedule = followup.report_schedule(application, at)
    reports = {r.year: r for r in application.followups.all()}
    base = followup.baseline(application, reports)
    fields = _fields(spec)
    rows = []
    for row in schedule:
        row = dict(row)
        year = row["year"]
        if row["kind"] == "followup":
            row["can_submit"] = (
                acts and application.state in followup.REPORT_STATES and row["open"]
                and not row["submitted"] and base is not None
            )  # fmt: skip
            row["form"] = forms.get(year) or {
                "values": {"fiscal_year_end": row["fiscal_year_end"].isoformat()},
                "errors": {},
            }
        rows.append(row)
    user = request_user(request)
    return {
        "app": application,
        "program": registry().programs[application.program],
        "spec": spec,
        "rows": rows,
        "followups": [r for r in rows if r["kind"] == "followup"],
        "acts": acts,
        "fields": fields,
        "baseline": base,
        "baseline_report": reports.get(followup.BASELINE_YEAR),
        "baseline_from_plan": bool(application.plan.get("followup", {}).get("baseline")),
        "baseline_form": forms.get(followup.BASELINE_YEAR) or {"values": {}, "errors": {}},
        "can_baseline": acts and base is None and application.state in followup.SCHEDULE_STATES,
        "labels": followup.LABELS,
        "problems": problems or [],
        "assumed_fiscal_year": any(r.get("assumed_fiscal_year") for r in rows),
        "feed_url": request.build_absolute_uri(reverse("calendar-user", args=[calendar_token(user)]))
        if acts
        else "",
    }


def _summary(year: int, errors: dict[str, str], lead: str = "") -> list[dict[str, str]]:
    """The page's error summary: the lead message, then each field's own message (named by its label
    unless the message already names it), each linking to its field."""
    out = [{"message": lead}] if lead else []
    for name, message in errors.items():
        label = followup.LABELS.get(name, "")
        text = message if not label or message.startswith(label) else f"{label}: {message}"
        if message != lead:
            out.append({"message": text, "href": f"#f{year}-{name}"})
    return out


@never_cache
@login_required
@require_GET
def followup_page(request: HttpRequest, pk: int) -> HttpResponse:
    _, application, acts, spec = _access(request, pk)
    return render(request, "applications/followup.html", _context(request, application, acts, spec))


@never_cache
@login_required
@require_POST
def followup_submit(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    user, application, acts, spec = _access(request, pk)
    figures, values, errors = figures_from(request.POST, spec)
    if figures is None:
        problems = _summary(year, errors, f"入力内容を確認してください（{len(errors)}件）")
        context = _context(request, application, acts, spec, forms={year: {"values": values, "errors": errors}},
                           problems=problems)  # fmt: skip
        return render(request, "applications/followup.html", context, status=422)
    try:
        if year == followup.BASELINE_YEAR:
            followup.baseline_submit(actor=user, application=application, figures=figures)
            messages.success(request, "基準年度の数値を登録しました")
        else:
            report = followup.followup_submit(actor=user, application=application, year=year, figures=figures)
            messages.success(
                request, f"{spec.name}（{year}年目）を提出しました。返還額: {report.refund_yen:,}円"
            )
    except DomainError as exc:  # the form again, as typed
        if exc.code == "forbidden":  # the same 404 as for an application one may not see
            raise Http404(exc.message) from None
        status = http_status(exc)
        field_errors = {e["field"]: e["message"] for e in exc.errors if "field" in e}
        context = _context(request, application, acts, spec, forms={year: {"values": values, "errors": field_errors}},
                           problems=_summary(year, field_errors, exc.message))  # fmt: skip
        return render(request, "applications/followup.html", context, status=status)
    return redirect(f"{reverse('followup', args=[application.pk])}#report-{year}")


@never_cache
@login_required
@require_POST
def followup_preview(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    """htmx: the 付加価値額 and the checks as they would come out, before anything is saved."""
    _, application, acts, spec = _access(request, pk)
    if not acts:
        raise Http404("申請が見つかりません")
    if not followup.BASELINE_YEAR <= year <= spec.years:  # growth targets are powers of the year
        raise Http404(f"{spec.name}は1〜{spec.years}年目です")
    figures, values, errors = figures_from(request.POST, spec)
    context: dict[str, Any] = {"year": year, "errors": errors}
    try:
        parts = [
            parse_amount(values[n], negative=n == "operating_profit_yen") for n in followup.AMOUNT_FIELDS[:3]
        ]
    except ValueError:
        parts = [None]
    if all(p is not None for p in parts):
        context["value_added_yen"] = sum(p for p in parts if p is not None)
    base = followup.baseline(application)
    if figures is not None and year >= 1 and base is not None:
        context["checks"], context["refund_yen"] = followup.evaluate(application, year, figures, base)
    return render(request, "applications/followup_preview.html", context)


@never_cache
@login_required
@require_GET
def followup_office(request: HttpRequest) -> HttpResponse:
    """The secretariat and the bureau: every submitted report and every overdue one, read-only."""
    user = request_user(request)
    if not _is_staff(user):
        raise Http404("ページが見つかりません")
    visible = applications_for(user)
    reports = (
        FollowUpReport.objects.filter(application__in=visible, year__gte=1)
        .select_related("application__organization")
        .order_by("-submitted_at", "-id")[:200]
    )
    late = followup.overdue(clock.now())
    allowed = set(visible.filter(pk__in=[a.pk for a, _ in late]).values_list("pk", flat=True))
    late = [
        {
            "app": a,
            "year": y,
            "program": registry().programs[a.program],
            "frame": registry().frame(a.frame_key),
        }
        for a, y in late
        if a.pk in allowed
    ]
    rows = []
    for report in reports:
        failed = [c for c in report.checks if c.get("passed") is False]
        rows.append(
            {
                "report": report,
                "failed": len(failed),
                "program": registry().programs[report.application.program],
            }
        )
    return render(request, "applications/followup_office.html", {"rows": rows, "late": late})


# -- iCalendar --------------------------------------------------------------------------------------------


def _fingerprint(user: User) -> str:
    """Changes whenever the password hash changes: a new password revokes every old feed URL."""
    return salted_hmac("shien.calendar.fingerprint", user.password or "").hexdigest()[:20]


def calendar_token(user: User) -> str:
    """The signed token of the user's personal feed URL: the user's pk and a fingerprint of the password
    hash, signed with SECRET_KEY. No model stores it; changing the password rotates it."""
    return signing.dumps([user.pk, _fingerprint(user)], salt=CALENDAR_SALT, compress=False)


def calendar_user(token: str) -> User | None:
    try:
        pk, fingerprint = signing.loads(token, salt=CALENDAR_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not hmac.compare_digest(str(fingerprint), _fingerprint(user)):
        return None
    return user


def _events(request: HttpRequest, application: Application) -> list[Event]:
    program = registry().programs[application.program]
    page = request.build_absolute_uri(reverse("followup", args=[application.pk]))
    events = []
    for row in followup.report_schedule(application, clock.now()):
        slot = "results" if row["kind"] == "results" else f"followup-{row['year']}"
        start = datetime.combine(row["due"], time(0), tzinfo=JST)
        state = "（提出済み）" if row["submitted"] else ""
        summary = f"【提出期限】{row['label']} {program.short_name}（{application.organization.name}）{state}"
        lines = [f"{program.name}の{row['label']}の提出期限: {wareki_date(row['due'])}"]
        if row["window_start"]:
            lines.append(f"提出期間: {wareki_date(row['window_start'])} 〜 {wareki_date(row['due'])}")
        lines.append(f"受付番号: {application}")
        if row["unverified"]:
            lines.append("※期限は公募要領で確認できていない前提に基づく目安です: " + " ".join(row["notes"]))
        lines.append(f"報告のページ: {page}")
        event = Event()
        event.add("uid", f"shien-application-{application.pk}-{slot}@shien")
        event.add("summary", summary)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(days=1))
        event.add("dtstamp", clock.now())
        event.add("description", "\n".join(lines))
        event.add("url", page)
        if not row["submitted"]:
            for days in (7, 1):
                alarm = Alarm()
                alarm.add("action", "DISPLAY")
                alarm.add("description", f"{row['label']}の提出期限まであと{days}日")
                alarm.add("trigger", timedelta(days=-days))
                event.add_component(alarm)
        events.append(event)
    return events


def _calendar(name: str, events: list[Event]) -> HttpResponse:
    response = calendar_response(
        name, events, product="report windows", filename="shien-reports.ics", timezones=True
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def application_ics(request: HttpRequest, pk: int) -> HttpResponse:
    _, application, _, _ = _access(request, pk)
    return _calendar(f"{application} の報告期限", _events(request, application))


@require_GET
def user_ics(request: HttpRequest, token: str) -> HttpResponse:
    """Every report window of every application the token's user may act for (no session needed)."""
    user = calendar_user(token)
    if user is None:
        raise Http404("カレンダーが見つかりません")
    applications = (
        followup.actable_applications(user)
        .filter(program__in=followup.FOLLOWUP_PROGRAMS, state__in=followup.SCHEDULE_STATES)
        .select_related("organization")
        .prefetch_related("followups")
        .order_by("pk")
    )
    events = [e for a in applications if followup.program_spec(a) for e in _events(request, a)]
    return _calendar("shien 報告期限", events)
