"""The 診断 pages: a step-by-step form (works without JavaScript, smoother with htmx) and the result.

A signed-in user may keep a result (「この結果を保存」) and start a prefilled application from it for
one of their organizations (「この枠で申請を作成」); nothing is stored for anyone else.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from shien.navigator import saved, services
from shien.rules.schema import check_as_of


def shindan(request: HttpRequest) -> HttpResponse:
    try:
        step = max(0, min(int(request.GET.get("step", "0")), len(services.STEPS) - 1))
    except ValueError:
        step = 0
    answers = services.read_answers(request.GET)
    # moving forward past a step with errors shows that step again, with the answers kept
    if request.GET.get("go") == "next" and answers.errors:
        earliest = services.first_step_with_error(answers)
        if earliest < step:
            step = earliest
    shown_errors = (
        {k: v for k, v in answers.errors.items() if services.FIELD_STEP.get(k) == step}
        if request.GET.get("go")
        else {}
    )
    answers.errors = shown_errors
    context = services.form_context(answers, step)
    template = "navigator/_form.html" if request.headers.get("HX-Request") else "navigator/shindan.html"
    return render(request, template, context)


def _signed_in(request: HttpRequest, answers: services.Answers) -> dict[str, Any]:
    """For a signed-in user: whether these answers are saved, and the organizations to apply for."""
    from shien.accounts.models import Organization

    user = request.user
    if not user.is_authenticated:
        return {}
    organizations = Organization.objects.filter(
        Q(memberships__user=user)
        | Q(advisor_consents__advisor=user, advisor_consents__revoked_at__isnull=True)
    ).distinct()
    return {
        "saved": saved.diagnosis_find(user, answers.values),  # type: ignore[arg-type]
        "organizations": list(organizations.order_by("name")),
        "idempotency_key": secrets.token_urlsafe(16),
    }


def result(request: HttpRequest) -> HttpResponse:
    answers = services.read_answers(request.GET)
    if answers.errors or answers.profile is None:
        step = services.first_step_with_error(answers)
        context = services.form_context(answers, step)
        return render(request, "navigator/shindan.html", context, status=400)
    at = services.read_as_of(request.GET)
    if at is not None:
        try:
            at = check_as_of(at)  # in the supported years, then in Japan time
        except ValueError as exc:  # a shared link with a date the rules cannot compute (0001-01-01)
            answers.errors = {"as_of": str(exc)}
            answers.values["as_of"] = ""  # 「結果を見る」 again: as of now
            context = services.form_context(answers, len(services.STEPS) - 1)
            return render(request, "navigator/shindan.html", context, status=400)
    context = {
        "answers": answers,
        "query": answers.query(),
        "hidden": services.hidden_fields(answers, exclude=("as_of",)),
        **services.results(answers.profile, at),
        **_signed_in(request, answers),
    }
    return render(request, "navigator/result.html", context)


@login_required
@require_POST
def diagnosis_save(request: HttpRequest) -> HttpResponse:
    """「この結果を保存」: the answers and the profile they make; the same answers again are one record."""
    from shien.accounts.selectors import request_user

    answers = services.read_answers(request.POST)
    if answers.errors or answers.profile is None:
        step = services.first_step_with_error(answers)
        return render(request, "navigator/shindan.html", services.form_context(answers, step), status=400)
    saved.diagnosis_save(
        user=request_user(request),
        values=answers.values,
        profile=answers.profile,
        title=request.POST.get("title", ""),
    )
    messages.success(request, "診断結果を保存しました。マイページからいつでも申請を作成できます")
    query = answers.query()
    return redirect(f"{reverse('shindan-result')}?{query}#saved")
