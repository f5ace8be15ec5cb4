"""The one error boundary: every code raised anywhere has its status in the registry, an uncaught
DomainError becomes the Japanese refusal page (the 404 page for not_found, a fragment for htmx, the
office's page in the office), and the API answers the same status in JSON."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from shien.accounts.oidc import PROVIDER_ERRORS
from shien.core.errors import CODES, DomainError, http_status, title
from shien.core.middleware import DomainErrorMiddleware

PACKAGE = Path(__file__).resolve().parents[2]
ERROR_TYPES = ("DomainError", "OIDCError", "PopulationError", "__init__")  # and super().__init__(code)


def _raised_codes() -> dict[str, set[str]]:
    """Every code given as a literal to an error type in the package's code (tests left out)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in ERROR_TYPES:
                continue
            for arg in node.args[:1]:  # the code is the first argument (a conditional: both branches)
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        found.setdefault(part.value, set()).add(str(path.relative_to(PACKAGE)))
    return found


def test_every_code_raised_has_its_status_in_the_registry() -> None:
    raised = _raised_codes()
    missing = {code: sorted(where) for code, where in raised.items() if code not in CODES}
    assert not missing, f"codes raised but not in shien.core.errors.CODES: {missing}"


def test_every_registered_code_is_raised_somewhere() -> None:
    raised = set(_raised_codes()) | set(PROVIDER_ERRORS)
    assert set(CODES) - raised == set()


def test_pages_and_the_api_agree_on_a_status() -> None:
    assert http_status("forbidden") == 403 and http_status(DomainError("not_found", "x")) == 404
    assert http_status("invalid_input") == 422 and http_status("invalid_state") == 409
    assert http_status("a_code_nobody_registered") == 400
    assert all(code.title and 400 <= code.status < 600 for code in CODES.values())
    assert title("forbidden") == "この操作はできません"


def _request(path: str = "/applications/1/grant/", **headers: str) -> object:
    request = RequestFactory().post(path, headers=headers)
    request.user = AnonymousUser()
    return request


def _refusal(request: object, error: Exception) -> object:
    return DomainErrorMiddleware(lambda r: None).process_exception(request, error)  # type: ignore[arg-type,return-value]


@pytest.mark.django_db
def test_an_uncaught_refusal_is_a_japanese_page_with_a_way_back() -> None:
    request = _request(Referer="http://testserver/applications/1/")
    response = _refusal(request, DomainError("invalid_state", "「下書き」の申請は交付申請できません"))
    page = response.content.decode()  # type: ignore[attr-defined]
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "「下書き」の申請は交付申請できません" in page and "<title>この状態ではできません" in page
    assert 'href="http://testserver/applications/1/"' in page and "マイページへ戻る" in page
    outside = _request(Referer="https://evil.example/")
    assert "evil.example" not in _refusal(outside, DomainError("forbidden", "x")).content.decode()  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_not_found_is_the_sites_404_page_and_htmx_gets_a_fragment() -> None:
    missing = _refusal(_request(), DomainError("not_found", "申請が見つかりません"))
    assert missing.status_code == 404 and "ページが見つかりません" in missing.content.decode()  # type: ignore[attr-defined]
    fragment = _refusal(
        _request(**{"HX-Request": "true"}), DomainError("conflict", "画面を読み込み直してください")
    )
    text = fragment.content.decode()  # type: ignore[attr-defined]
    assert fragment.status_code == 409 and 'id="save-status"' in text and "<html" not in text  # type: ignore[attr-defined]
    assert _refusal(_request(), ValueError("not ours")) is None


@pytest.mark.django_db
def test_a_view_area_names_its_own_error_page() -> None:
    request = _request("/office/applications/1/grant/")
    request.error_page = ("office/error.html", {"is_staff": True})  # type: ignore[attr-defined]
    page = _refusal(request, DomainError("over_budget", "予算を超えます")).content.decode()  # type: ignore[attr-defined]
    assert "事務局トップ" in page and "予算を超えます" in page


def test_the_api_answers_with_the_registrys_status() -> None:
    from shien.web.api import domain_error

    response = domain_error(RequestFactory().get("/api/v1/programs"), DomainError("forbidden", "できません"))
    assert response.status_code == 403
    assert json.loads(response.content) == {"code": "forbidden", "message": "できません", "errors": []}
