"""The OpenAPI document is valid JSON for strict parsers (Swagger UI refuses duplicated keys)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicated keys: {keys}"
    return dict(pairs)


def test_openapi_has_no_duplicated_keys(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=_no_duplicates)
    assert set(document["paths"]["/api/v1/estimate"]["post"]["responses"]) == {"200", "413", "415", "422"}
