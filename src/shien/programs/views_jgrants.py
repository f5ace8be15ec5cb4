"""HTTP views of the jGrants-compatible API (plain JSON, jGrants' status codes and messages)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from shien.programs import documents, jgrants
from shien.rules.registry import Frame, Program


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


def _detail(request: HttpRequest, subsidy_id: str, version: int) -> JsonResponse:
    def page_url(program: Program, frame: Frame) -> str:
        """shien's own page of the frame (jGrants' front_subsidy_detail_page_url), absolute."""
        return request.build_absolute_uri(reverse("program-detail", args=[program.id]) + f"#{frame.id}")

    return _json(
        jgrants.detail(subsidy_id, version=version, page_url=page_url, documents=documents.jgrants_files)
    )


@_get_only
def subsidy_v1(request: HttpRequest, subsidy_id: str) -> JsonResponse:
    return _detail(request, subsidy_id, 1)


@_get_only
def subsidy_v2(request: HttpRequest, subsidy_id: str) -> JsonResponse:
    return _detail(request, subsidy_id, 2)


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return _json({"message": "Resource not found"}, 404)
