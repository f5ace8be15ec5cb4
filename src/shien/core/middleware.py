"""Responses the whole site shares: Vary on htmx, and a Japanese page for an address that only takes
a form's POST (opened from the address bar or a bookmark), instead of the browser's blank 405."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers


class VaryOnHtmxMiddleware:
    """`Vary: HX-Request` on every response: a browser's cache (back, forward, reopening a tab) never
    shows the list fragment htmx fetched in place of the page at the same address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, ("HX-Request",))
        return response


class MethodNotAllowedPageMiddleware:
    """A GET of a POST-only address (a bookmark, Enter in the address bar after a refused form) gets a
    page in Japanese with a link to the page the form was on, still with status 405."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or request.method not in ("GET", "HEAD") or response.content:
            return response
        from django.shortcuts import render

        parent = request.path.rstrip("/").rsplit("/", 1)[0] + "/"
        page = render(request, "core/method_not_allowed.html", {"parent": parent}, status=405)
        page["Allow"] = response.get("Allow", "POST")
        return page


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent from an old page or another session, explained in Japanese."""
    from django.shortcuts import render
    from django.utils.http import url_has_allowed_host_and_scheme

    referer = request.META.get("HTTP_REFERER", "")
    back = referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else ""
    return render(request, "core/csrf_failure.html", {"back": back}, status=403)
