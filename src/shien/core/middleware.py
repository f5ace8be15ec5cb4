"""Pages that answer htmx with a fragment and a browser with the whole page, at one URL."""

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
