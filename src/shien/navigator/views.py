"""The 診断 pages: a step-by-step form (works without JavaScript, smoother with htmx) and the result."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shien.navigator import services


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


def result(request: HttpRequest) -> HttpResponse:
    answers = services.read_answers(request.GET)
    if answers.errors or answers.profile is None:
        step = services.first_step_with_error(answers)
        context = services.form_context(answers, step)
        return render(request, "navigator/shindan.html", context, status=400)
    at = services.read_as_of(request.GET)
    context = {
        "answers": answers,
        "query": answers.query(),
        "hidden": services.hidden_fields(answers, exclude=("as_of",)),
        **services.results(answers.profile, at),
    }
    return render(request, "navigator/result.html", context)
