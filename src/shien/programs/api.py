"""Rules and program endpoints: POST /estimate, GET /programs, GET /programs/{id}."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import ValidationError

from shien.rules.catalog import catalog, program_document
from shien.rules.engine import estimate as run_estimate
from shien.rules.engine import now
from shien.rules.errors import DomainError
from shien.rules.registry import JST, registry
from shien.rules.schema import Profile, japanese_errors

router = Router(tags=["rules"])

MAX_PROFILES = 1000


def _parse_profiles(request: HttpRequest) -> tuple[list[Profile], bool]:
    raw = request.body.decode("utf-8-sig", errors="replace").strip()
    content_type = request.content_type or ""
    try:
        if content_type == "application/x-ndjson":
            docs: Any = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            docs = json.loads(raw)
    except json.JSONDecodeError:
        raise DomainError("invalid_json", "JSONとして読めません") from None
    single = isinstance(docs, dict)
    items = [docs] if single else docs
    if not isinstance(items, list):
        raise DomainError("invalid_input", "JSONオブジェクトまたは配列を指定してください")
    if len(items) > MAX_PROFILES:
        raise DomainError("too_many", f"一度に判定できるのは{MAX_PROFILES:,}件までです")
    profiles, errors = [], []
    for index, item in enumerate(items):
        prefix = "" if single else f"[{index}]."
        try:
            profiles.append(Profile.model_validate(item))
        except ValidationError as exc:
            errors.extend(japanese_errors(exc, prefix=prefix))
    if errors:
        raise DomainError("invalid_input", "入力に誤りがあります", errors)
    return profiles, single


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
            422: {
                "description": "入力の誤り（日本語のメッセージ）",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorDocument"}}},
            },
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
    from datetime import datetime

    if not as_of:
        return now()
    try:
        moment = datetime.fromisoformat(as_of)
    except ValueError:
        raise DomainError(
            "invalid_input",
            "入力に誤りがあります",
            [
                {
                    "field": "as_of",
                    "label": "判定日時",
                    "message": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
                }
            ],
        ) from None
    return (moment.replace(tzinfo=JST) if moment.tzinfo is None else moment).astimezone(JST)


@router.get("/programs", summary="制度・枠・公募回の一覧")
def programs(request: HttpRequest, query: Query[AsOf]) -> Any:
    return catalog(_moment(query.as_of))


@router.get("/programs/{program_id}", summary="制度の詳細（枠、公募回、パラメータと出典）")
def program_detail(request: HttpRequest, program_id: str, query: Query[AsOf]) -> Any:
    program = registry().programs.get(program_id)
    if program is None:
        raise DomainError("not_found", f"制度が見つかりません: {program_id}")
    return program_document(program, _moment(query.as_of))
