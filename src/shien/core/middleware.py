"""Responses the whole site shares: Vary on htmx, a Japanese page for an address that only takes a
form's POST (opened from the address bar or a bookmark) instead of the browser's blank 405, bodies
over the limit refused before they are read (413), no-store on every page with personal data, and the
page for a refusal (a `DomainError` no view caught) with the status the error registry gives it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers, patch_vary_headers


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


class DomainErrorMiddleware:
    """A `DomainError` a view did not catch becomes the refusal page, with the status of its code in
    `core.errors` (the API has its own handler, `web.api`, for the same registry in JSON).

    Views catch an error only to show a form again with what was typed; everything else (a button
    refused, an object one may not see) ends here. `not_found` is the site's 404 page, the same one a
    missing address gets, so an object one may not see answers like one that does not exist. An htmx
    request gets the message as a fragment for the form's live region. A view area may name its own
    page in `request.error_page` (template, context): the office's pages keep the office's menu.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from shien.core import errors

        if not isinstance(exception, errors.DomainError):
            return None
        status = errors.http_status(exception)
        if status == 404:
            return render(request, "404.html", status=404)
        context = {"message": exception.message, "title": errors.title(exception), "back": _back(request)}
        if request.headers.get("HX-Request"):
            return render(request, "applications/_status.html", context, status=status)
        template, extra = getattr(request, "error_page", ("applications/error.html", {}))
        return render(request, template, {**extra, **context}, status=status)


def _back(request: HttpRequest) -> str:
    """The page the refused form was on, if it is on this site ('' otherwise)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    referer = request.META.get("HTTP_REFERER", "")
    return referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else ""


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent from an old page or another session, explained in Japanese."""
    from django.shortcuts import render
    from django.utils.http import url_has_allowed_host_and_scheme

    referer = request.META.get("HTTP_REFERER", "")
    back = referer if url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}) else ""
    # cookies marked Secure never come back over plain http: no retry helps, the address must change
    plain_http = settings.CSRF_COOKIE_SECURE and not request.is_secure()
    return render(request, "core/csrf_failure.html", {"back": back, "plain_http": plain_http}, status=403)


BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class RequestBodyLimitMiddleware:
    """A request whose body is larger than the limit gets 413 before any of it is read.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE leaves out uploaded files, so a multipart body of any size was
    read (to temporary files) before the view could refuse it. The limit is `REQUEST_BODY_MAX_BYTES`
    (an attachment's 10 MB and the form around it), or the larger one `REQUEST_BODY_LIMITS` gives a
    page by URL name (the results report, one evidence file per row). The declared Content-Length is
    what counts: a body sent without one (chunked) is refused with 411, since it could not be checked
    before reading it (Django would not read it anyway).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in BODY_METHODS:
            declared = request.META.get("CONTENT_LENGTH") or ""
            chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
            if not declared and chunked:
                return _refuse_body(request, 411, 0)
            try:
                size = int(declared or 0)
            except ValueError:
                return _refuse_body(request, 400, 0)
            limit = body_limit(request.path_info)
            if size > limit:
                return _refuse_body(request, 413, limit)
        return self.get_response(request)


def body_limit(path: str) -> int:
    limits: dict[str, int] = getattr(settings, "REQUEST_BODY_LIMITS", {})
    default: int = settings.REQUEST_BODY_MAX_BYTES
    if not limits:
        return default
    from django.urls import Resolver404, resolve

    try:
        name = resolve(path).url_name
    except Resolver404:
        return default
    return limits.get(name or "", default)


def _refuse_body(request: HttpRequest, status: int, limit: int) -> HttpResponse:
    megabytes = limit // (1024 * 1024)
    code, message = {
        413: ("too_large", f"送信されたデータが大きすぎます（上限 {megabytes}MB）"),
        411: ("length_required", "送信するデータの大きさ（Content-Length）が必要です"),
        400: ("invalid_length", "送信するデータの大きさ（Content-Length）が正しくありません"),
    }[status]
    if request.path_info.startswith(("/api/", "/exp/")):
        # each API's own error shape: the documented ErrorDocument, jGrants' {"message"} on /exp/
        body = (
            {"message": message}
            if request.path_info.startswith("/exp/")
            else {"code": code, "message": message, "errors": []}
        )
        response: HttpResponse = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    else:
        if status == 413:
            message += "。添付ファイルは1件10MBまでです"
        from django.shortcuts import render

        response = render(
            request, "core/request_too_large.html", {"message": message, "limit_mb": megabytes}, status=status
        )
    response["Connection"] = "close"  # the unread body must not be taken for the next request
    return response


PRIVATE_PREFIXES = (
    "/office/",
    "/mypage/",
    "/inbox/",
    "/organizations/",
    "/applications/",
    "/accounts/",
    "/calendar/u/",
)


class PrivatePageMiddleware:
    """`Cache-Control: private, no-store` on every page that shows personal data: everything under the
    personal and office addresses, and every response to a logged-in user (its pages carry their name,
    inbox count and links), unless the view already chose a private policy itself (the personal
    calendar feed, `private, max-age=3600`). Anonymous public pages keep their own caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        chosen = response.get("Cache-Control", "")
        if "private" in chosen and ("no-store" in chosen or "max-age" in chosen):
            return response
        if request.path_info.startswith(PRIVATE_PREFIXES) or _logged_in(request):
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private, Expires
        return response


def _logged_in(request: HttpRequest) -> bool:
    """Whether the request has a logged-in user; without a session cookie the session is not even read
    (so responses to visitors do not become `Vary: Cookie` because of this check)."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return user is not None and bool(user.is_authenticated)
