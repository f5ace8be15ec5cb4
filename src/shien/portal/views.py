"""Pages composed across the domains: the home page (the programs, their highlights and the bureau's
news) and マイページ (the user's businesses, invitations and applications, the frames open now)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shien.accounts.members import invitations_for
from shien.accounts.models import Role
from shien.accounts.selectors import acting_organizations, request_user
from shien.accounts.selectors import home as home_of
from shien.accounts.twofactor import two_factor_recommended
from shien.applications.selectors import applications_for
from shien.applications.views import mypage_context  # drafts, states, saved 診断, 様式4, 計画変更
from shien.programs import pages
from shien.programs.selectors import news_list
from shien.rules import clock
from shien.rules.frames.base import rounds_at
from shien.rules.registry import registry
from shien.rules.text import wareki_datetime


def home(request: HttpRequest) -> HttpResponse:
    at = pages.minute()
    context = {
        "programs": pages.programs_view(at),
        "highlights": pages.highlights(at),
        "news": news_list(limit=10),
        "now": wareki_datetime(at),
    }
    return render(request, "core/home.html", context)


@login_required
def mypage(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    open_rounds = rounds_at(clock.now())
    home_url, home_label = home_of(user)
    return render(
        request,
        "accounts/mypage.html",
        {
            # staff work elsewhere: a link to their own home, and no citizen prompts to register a business
            "staff_home": (home_url, home_label) if home_url != request.path else None,
            "is_advisor": user.has_role(Role.ADVISOR),
            "applies": not user.has_any_role((Role.SECRETARIAT, Role.BUREAU, Role.REVIEWER)),
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
