"""The HTTP API: estimate, programs, OpenAPI, Japanese 422s."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from shien.rules.output import ErrorDocument, EstimateDocument, ProgramDocument
from shien.tests.test_cli import EXAMPLE

pytestmark = pytest.mark.django_db


def post(client: Client, body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/v1/estimate", data=data, content_type=content_type)


def test_estimate_one_profile(client: Client) -> None:
    response = post(client, EXAMPLE)
    assert response.status_code == 200
    doc = EstimateDocument.model_validate(response.json())
    best = max((r for r in doc.results if r.eligible and r.subsidy_yen), key=lambda r: r.subsidy_yen or 0)
    assert (best.program, best.frame, best.subsidy_yen) == ("monozukuri", "shoryokuka", 25_000_000)
    assert "令" not in response.content.decode()[:0]  # body is UTF-8 Japanese, not \\u escapes
    assert "ものづくり補助金" in response.content.decode("utf-8")


def test_estimate_same_documents_as_the_cli(client: Client) -> None:
    from shien.rules.engine import estimate
    from shien.rules.schema import Profile

    response = post(client, [EXAMPLE, EXAMPLE])
    assert response.json() == estimate([Profile.model_validate(EXAMPLE)] * 2)


def test_estimate_json_lines(client: Client) -> None:
    body = json.dumps(EXAMPLE) + "\n" + json.dumps(EXAMPLE) + "\n"
    response = post(client, body, "application/x-ndjson")
    assert response.status_code == 200 and len(response.json()) == 2


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"business": {"industry": "製造業"}}, "business.employees", "必須項目です"),
        (
            [
                {"business": {"industry": "製造業", "employees": 1}},
                {"business": {"industry": "製造業", "employees": "x"}},
            ],
            "2.business.employees",  # the second element (counted from 1): item 2
            "整数を指定してください",
        ),
        ([1], "1.(入力全体)", "JSONオブジェクト（{ ... }）を指定してください"),
        ({"business": 1}, "business", "オブジェクト（{ ... }）を指定してください"),
        (
            {"business": {"industry": "製造業", "employees": 1}, "plan": {"expenses": [1]}},
            "plan.expenses[0]",
            "オブジェクト（{ ... }）を指定してください",
        ),
        (
            {"business": {"industry": "製造業", "employees": 1, "applied_rounds": ["nope/1"]}},
            "business.applied_rounds",
            "公募回「nope/1」はありません。制度ID/回（例: monozukuri/17）で指定してください"
            "（一覧は shien programs または GET /api/v1/programs）",
        ),
        (
            {"as_of": "0001-01-01T00:00:00", "business": {"industry": "製造業", "employees": 1}},
            "as_of",
            "判定日時は2000年1月1日から2100年12月31日までの日時を指定してください",
        ),
        (
            {"business": {"industry": "製造業", "employees": 1, "prefecture": "ヒロシマ"}},
            "business.prefecture",
            "都道府県名（例: 広島県）を指定してください",
        ),
        (  # limits with thousands separators, as amounts are written everywhere else
            {
                "business": {"industry": "製造業", "employees": 1},
                "plan": {"expenses": [{"category": "machinery", "amount_yen": 10**12 + 1}]},
            },
            "plan.expenses[0].amount_yen",
            "1,000,000,000,000以下の値を指定してください",
        ),
    ],
)
def test_invalid_input_is_422_with_japanese_messages(
    client: Client, body: Any, field: str, message: str
) -> None:
    response = post(client, body)
    assert response.status_code == 422
    error = ErrorDocument.model_validate(response.json())
    where = [f"{e.item}.{e.field}" if e.item else e.field for e in error.errors]
    assert any(w == field and e.message == message for w, e in zip(where, error.errors, strict=True)), error


def test_json_lines_errors_name_the_line_counted_from_1(client: Client) -> None:
    body = json.dumps(EXAMPLE) + "\n\n" + json.dumps({"business": {"industry": "製造業"}}) + "\n"
    response = post(client, body, "application/x-ndjson")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error == {
        "field": "business.employees",
        "label": "常時使用する従業員数",
        "message": "必須項目です",
        "item": 2,
        "line": 3,
    }


@pytest.mark.parametrize("path", ["/api/v1/programs", "/api/v1/programs/monozukuri"])
@pytest.mark.parametrize("as_of", ["0001-01-01", "0003-06-01T00:00:00+14:00", "昨日"])
def test_programs_as_of_out_of_range_or_unreadable_is_422(client: Client, path: str, as_of: str) -> None:
    response = client.get(path, {"as_of": as_of})
    assert response.status_code == 422
    (error,) = ErrorDocument.model_validate(response.json()).errors
    assert error.field == "as_of" and error.label == "判定日時" and "してください" in error.message


def test_malformed_json_is_422(client: Client) -> None:
    response = post(client, "{")
    assert (
        response.status_code == 422 and response.json()["message"] == "JSONとして読めません（1行目 2文字目）"
    )


def test_the_declared_charset_is_read_or_named_in_the_error(client: Client) -> None:
    """A Shift_JIS body was read as UTF-8 (bad bytes replaced) and got a 422 about 業種."""
    text = json.dumps(EXAMPLE, ensure_ascii=False)
    expected = post(client, EXAMPLE).json()

    def send(body: bytes, content_type: str) -> Any:
        return client.generic("POST", "/api/v1/estimate", body, content_type)  # the bytes as given

    for charset in ("shift_jis", "Shift_JIS", "windows-31j", "cp932", "euc-jp", "iso-2022-jp", "utf-16"):
        codec = {"windows-31j": "cp932", "shift_jis": "cp932", "Shift_JIS": "cp932"}.get(charset, charset)
        read = send(text.encode(codec), f"application/json; charset={charset}")
        assert read.status_code == 200 and read.json() == expected, charset
    # what Windows calls Shift_JIS holds ①: read as Windows-31J, as browsers do
    circled = json.dumps(
        EXAMPLE | {"business": EXAMPLE["business"] | {"prefecture": "広島県①"}}, ensure_ascii=False
    )
    refused = send(circled.encode("cp932"), "application/json; charset=shift_jis")
    assert refused.status_code == 422 and "都道府県" in refused.text and "読めません" not in refused.text
    # undeclared Shift_JIS is not UTF-8: named as such, not as an error about 業種
    wrong = send(text.encode("cp932"), "application/json")
    message = ErrorDocument.model_validate(wrong.json()).message
    assert wrong.status_code == 422 and message.startswith("本文が UTF-8 の文字として読めません（")
    assert "UTF-8 で送ってください" in message and "業種" not in wrong.text
    mislabeled = send(text.encode("utf-8"), "application/json; charset=iso-2022-jp")
    assert mislabeled.status_code == 422 and "本文が iso-2022-jp の文字として読めません" in mislabeled.text
    for charset in ("koi8-r", "punycode", "x-unknown-charset"):  # not offered, or not known at all
        unknown = send(text.encode("utf-8"), f"application/json; charset={charset}")
        document = ErrorDocument.model_validate(unknown.json())
        assert unknown.status_code == 415 and document.code == "unsupported_charset"
        assert f"charset={charset} の本文は読めません。UTF-8 で送ってください" in document.message
    assert send(b"\xef\xbb\xbf" + text.encode("utf-8"), "application/json").status_code == 200  # a BOM
    responses = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/estimate"]["post"]["responses"]
    assert "415" in responses


def test_programs_and_detail(client: Client) -> None:
    listing = client.get("/api/v1/programs", {"as_of": "2024-03-20T10:00:00+09:00"}).json()
    assert len(listing) == 8
    for document in listing:  # the documented shape (OpenAPI ProgramDocument)
        ProgramDocument.model_validate(document)
    mono = client.get("/api/v1/programs/monozukuri", {"as_of": "2024-03-20T10:00:00+09:00"}).json()
    assert mono["accepting"] is True
    assert [r["id"] for r in mono["rounds"]] == ["17", "18"]
    caps = next(p for p in mono["parameters"] if p["name"] == "monozukuri.shoryokuka.caps")
    assert caps["status"] == "unverified" and caps["note"]
    missing = client.get("/api/v1/programs/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_openapi_documents_the_estimate_contract(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/estimate", "/api/v1/programs", "/api/v1/programs/{program_id}"} <= set(schema["paths"])
    components = schema["components"]["schemas"]
    assert {"Profile", "EstimateDocument", "ErrorDocument", "ProgramDocument", "Business", "Plan"} <= set(
        components
    )
    for path, operation in [("/api/v1/programs", "get"), ("/api/v1/programs/{program_id}", "get")]:
        responses = schema["paths"][path][operation]["responses"]
        assert "422" in responses and "content" in responses["200"]
    assert "404" in schema["paths"]["/api/v1/programs/{program_id}"]["get"]["responses"]
    refs = json.dumps(schema)
    for ref in set(__import__("re").findall(r'"#/components/schemas/([^"]+)"', refs)):
        assert ref in components, ref


def test_get_on_estimate_is_not_allowed(client: Client) -> None:
    assert client.get("/api/v1/estimate").status_code == 405
