"""HTTP views of the jGrants-compatible API (plain JSON, jGrants' status codes and messages)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from shien.programs import jgrants


def _json(data: Any, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"  # a public read API, as jGrants
    return response


def _get_only(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    @csrf_exempt  # read-only; other methods get jGrants' JSON 405, not CSRF's HTML 403
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method not in ("GET", "HEAD"):
            return _json({"message": "Method not allowed"}, 405)
        return view(request, *args, **kwargs)

    return wrapper


@_get_only
def subsidies(request: HttpRequest) -> JsonResponse:
    try:
        return _json(jgrants.search(request.GET.dict()))
    except jgrants.BadRequest:
        return _json({"message": "Bad request"}, 400)


@_get_only
def subsidy_v1(request: HttpRequest, subsidy_id: str) -> JsonResponse:
    return _json(jgrants.detail(subsidy_id, version=1))


@_get_only
def subsidy_v2(request: HttpRequest, subsidy_id: str) -> JsonResponse:
    return _json(jgrants.detail(subsidy_id, version=2))


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return _json({"message": "Resource not found"}, 404)
