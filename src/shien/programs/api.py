"""Rules and program endpoints: POST /estimate, GET /programs, GET /programs/{id}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Query, Router, Schema

from shien.core.errors import DomainError
from shien.rules import clock
from shien.rules.catalog import catalog, program_document
from shien.rules.engine import estimate as run_estimate
from shien.rules.registry import registry
from shien.rules.schema import Profile, decode_body, parse_as_of, read_profiles

router = Router(tags=["rules"])

MAX_PROFILES = 1000


def _mb() -> int:
    from django.conf import settings

    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) // 1_000_000


def _parse_profiles(request: HttpRequest) -> tuple[list[Profile], bool]:
    """The same reading as `shien estimate`: one JSON value, or JSON Lines by its media type."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise DomainError("too_large", f"入力が大きすぎます（{MAX_PROFILES:,}件、{_mb()}MBまで）") from None
    text = decode_body(body, (request.content_params or {}).get("charset"))
    json_lines = (request.content_type or "") == "application/x-ndjson"
    return read_profiles(text, json_lines=json_lines, limit=MAX_PROFILES)


def _document(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    """An error response as documented: the ErrorDocument (code, Japanese message, field errors)."""
    return _document(description, {"$ref": "#/components/schemas/ErrorDocument"})


_ARRAY_OF_PROGRAMS = {"type": "array", "items": {"$ref": "#/components/schemas/ProgramDocument"}}


@router.post(
    "/estimate",
    summary="事業者の情報から、対象となる補助金・枠と金額を判定する",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Profile"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/Profile"}},
                        ]
                    }
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "JSON Lines（1行に1件）"}
                },
            },
        },
        "responses": {
            200: {
                "description": "判定結果（単一の入力には1件、配列・JSON Lines には入力順の配列）",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/EstimateDocument"},
                                {"type": "array", "items": {"$ref": "#/components/schemas/EstimateDocument"}},
                            ]
                        }
                    }
                },
            },
            413: _error("入力が大きすぎる"),
            415: _error(
                "読めない文字コード（charset）。UTF-8、または charset を付けた Shift_JIS・EUC-JP・ISO-2022-JP"
            ),
            422: _error(
                "入力の誤り（項目ごとの日本語のメッセージ。配列・JSON Lines では何件目・何行目かも）"
            ),
        },
    },
)
def estimate(request: HttpRequest) -> Any:
    profiles, single = _parse_profiles(request)
    documents = run_estimate(profiles)
    return documents[0] if single else documents


class AsOf(Schema):
    as_of: str | None = None


def _moment(as_of: str | None) -> Any:
    return parse_as_of(as_of) if as_of else clock.now()


@router.get(
    "/programs",
    summary="制度・枠・公募回の一覧",
    openapi_extra={
        "responses": {
            200: _document("制度の一覧（制度・枠・公募回・パラメータと出典）", _ARRAY_OF_PROGRAMS),
            422: _error("as_of の誤り（日本語のメッセージ）"),
        }
    },
)
def programs(request: HttpRequest, query: Query[AsOf]) -> Any:
    return catalog(_moment(query.as_of))


@router.get(
    "/programs/{program_id}",
    summary="制度の詳細（枠、公募回、パラメータと出典）",
    openapi_extra={
        "responses": {
            200: _document("制度の詳細", {"$ref": "#/components/schemas/ProgramDocument"}),
            404: _error("その ID の制度はない"),
            422: _error("as_of の誤り（日本語のメッセージ）"),
        }
    },
)
def program_detail(request: HttpRequest, program_id: str, query: Query[AsOf]) -> Any:
    program = registry().programs.get(program_id)
    if program is None:
        raise DomainError("not_found", f"制度が見つかりません: {program_id}")
    return program_document(program, _moment(query.as_of))
