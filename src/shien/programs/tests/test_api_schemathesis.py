"""schemathesis against the live /api/v1/openapi.json: no server errors, responses as documented.

Every operation gets generated requests (valid and invalid ones) through the Django WSGI app, in
process, derandomized so that CI sees the same requests on every run.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

schemathesis.serializer.alias("application/x-ndjson", "text/plain")  # JSON Lines: the body is the text
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _app() -> Any:
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _app())  # the live schema, not the snapshot


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
