"""The inbox (お知らせ): the user's own messages, newest first; mark one or all read.

Marking read is a POST (htmx swaps the one item and the header badge; without JavaScript the page
reloads). Opening a message (its title is a button posting to `inbox-open`) marks it read and goes to
its page; a GET of that address only goes there, so a prefetch or a mail link scanner changes nothing.
Another user's message id gives the same 404 as a missing one.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shien.accounts.selectors import request_user
from shien.core import notifications
from shien.core.models import Notification

PAGE_SIZE = 50


def _note(request: HttpRequest, pk: int) -> Notification:
    """The user's own notification; `not_found` (the 404 page) for anyone else's."""
    return notifications.notification_get(request_user(request), pk)


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    page = Paginator(notifications.inbox_for(user), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "unread": notifications.unread_count(user)}
    return render(request, "core/inbox.html", context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def inbox_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a message: go to its page (a local one; else the inbox). A POST (the user clicked the
    title) also marks it read; a GET changes nothing."""
    note = _note(request, pk)
    if request.method == "POST":
        notifications.mark_read(request_user(request), note)
    safe = note.url and url_has_allowed_host_and_scheme(note.url, allowed_hosts={request.get_host()})
    return redirect(note.url if safe else "inbox")


@login_required
@require_POST
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    user = request_user(request)
    note = notifications.mark_read(user, _note(request, pk))
    if _htmx(request):
        context = {"note": note, "oob": True, "unread": notifications.unread_count(user)}
        return render(request, "core/inbox_item.html", context)
    return redirect("inbox")


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    notifications.mark_all_read(request_user(request))
    return redirect("inbox")
