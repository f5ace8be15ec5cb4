"""The open API (django-ninja), one router per app, mounted at /api/v1/."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from shien.core.errors import DomainError, http_status
from shien.rules.output import ErrorDocument, EstimateDocument, ProgramDocument
from shien.rules.schema import Profile, japanese_errors


class ShienAPI(NinjaAPI):
    """Adds the rules' documents (validated with pydantic outside ninja) to the OpenAPI components."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Profile, EstimateDocument, ErrorDocument, ProgramDocument):
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(doc.pop("$defs", {}))
            components[model.__name__] = doc
        return schema


class JapaneseJSONRenderer(JSONRenderer):
    """UTF-8 JSON with Japanese as written (orjson: an estimate document is ~80 KB)."""

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> Any:
        return orjson.dumps(data)


api = ShienAPI(
    renderer=JapaneseJSONRenderer(),
    # /api/v1/docs runs under the site's Content-Security-Policy: ninja's Swagger UI is served from
    # /static/ninja/ (no CDN) and reads its settings from a JSON data block, not an inline script
    title="shien API",
    version="1",
    description="中小企業支援制度のルール（補助金の判定・金額）と制度情報の API",
    urls_namespace="api-v1",
)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """The ErrorDocument, with the status the error registry gives its code (as pages answer)."""
    return api.create_response(request, exc.as_dict(), status=http_status(exc))


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [{**e, "loc": [p for p in e["loc"] if p not in ("query", "body", "path")]} for e in exc.errors]
    body = {"code": "invalid_input", "message": "入力に誤りがあります", "errors": japanese_errors(errors)}
    return api.create_response(request, body, status=422)


from shien.programs.api import router as programs_router  # noqa: E402

api.add_router("", programs_router)
