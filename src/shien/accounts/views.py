"""Account pages: sign-up, my page, a new organization. Login and password reset are Django's views."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from shien.accounts.forms import FIELD_OF, OrganizationForm, SignupForm
from shien.accounts.members import invitations_for
from shien.accounts.models import User
from shien.accounts.selectors import acting_organizations, request_user
from shien.accounts.services import organization_create
from shien.accounts.twofactor import two_factor_recommended
from shien.applications.selectors import applications_for
from shien.rules.engine import now
from shien.rules.errors import DomainError
from shien.rules.frames.base import rounds_at
from shien.rules.registry import registry


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = User.objects.create_user(
                form.cleaned_data["email"], form.cleaned_data["password"], name=form.cleaned_data["name"]
            )
        login(request, user, backend="shien.accounts.backends.LockoutBackend")
        return redirect("mypage")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def mypage(request: HttpRequest) -> HttpResponse:
    from shien.applications.views import mypage_context  # drafts, states, saved 診断, 様式4, 計画変更

    user = request_user(request)
    open_rounds = rounds_at(now())
    return render(
        request,
        "accounts/mypage.html",
        {
            "organizations": acting_organizations(user),
            "invitations": list(invitations_for(user).order_by("created_at")),
            "two_factor_recommended": two_factor_recommended(user),
            "applications": applications_for(user)
            .select_related("organization")
            .order_by("-updated_at")[:50],
            "frames": [  # only frames with a round open now: the others cannot be applied for
                (f"{p.id}/{f.id}", f"{p.short_name} {f.name}")
                for p in registry().programs.values()
                if p.kind == "grant"
                for f in p.frames.values()
                if open_rounds[f"{p.id}/{f.id}"].accepting
            ],
            **mypage_context(user),
        },
    )


@login_required
def organization_new(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    # one key per rendered form: a double click or a retry registers the business once
    key = (
        request.POST.get("idempotency_key", "")[:100]
        if request.method == "POST"
        else secrets.token_urlsafe(16)
    )
    if request.method == "POST" and form.is_valid():
        user = request_user(request)
        try:
            organization_create(actor=user, idempotency_key=key, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(FIELD_OF.get(exc.code), exc.message)
        else:
            messages.success(request, "事業者を登録しました")
            return redirect("mypage")
    return render(request, "accounts/organization_form.html", {"form": form, "idempotency_key": key})
