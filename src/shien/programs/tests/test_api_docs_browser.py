"""The API documentation page (/api/v1/docs) in Chromium: it renders under a Content-Security-Policy,
from this site's files alone (no network), without a single CSP violation."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_docs_render_under_the_csp_without_violations(live_server: Any, page: Any, client: Any) -> None:
    response = client.get("/api/v1/docs")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy and "unsafe-eval" not in policy
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    outside: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            (outside.append(route.request.url), route.abort())
            if not route.request.url.startswith(live_server.url)
            else route.continue_()
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/estimate").first.wait_for(timeout=15000)
    page.wait_for_timeout(500)
    violations = [t for t in console if "Content Security Policy" in t or "Refused to" in t]
    assert violations == [] and outside == []
