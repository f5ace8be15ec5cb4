"""The 診断: parsing, steps without JavaScript, results, what-if, no storage."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shien.navigator.services import _number

pytestmark = pytest.mark.django_db
EXAMPLE = {
    "industry": "製造業", "employees": "30", "capital_man": "10,000", "prefecture": "広島県", "min_wage": "1000",
    "planned_wage": "1030", "purposes": "labor_saving", "e_machinery": "6000万", "as_of": "2024-03-20",
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,500,000", 1_500_000),
        ("150万", 1_500_000),
        ("１５０万円", 1_500_000),
        ("1.5万", 15_000),
        ("", None),
        (" 0 ", 0),
    ],
)
def test_amounts_as_people_write_them(text: str, value: int | None) -> None:
    assert _number(text) == value


@pytest.mark.parametrize("text", ["abc", "1.5", "-3", "1.23456万"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        _number(text)


def amounts(html: str) -> list[str]:
    return re.findall(r"補助額 <strong>([^<]+)</strong>", html)


def test_result_ranks_frames_with_amount_reason_commitments_and_deadline(client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/shindan/result/?" + urlencode(EXAMPLE))
    html = response.content.decode()
    assert response.status_code == 200 and len(queries) == 0  # nothing stored
    assert amounts(html)[0] == "25,000,000円"
    assert "ものづくり補助金 省力化(オーダーメイド)枠" in html
    assert "受付中" in html and "令和6年3月27日(水) 17:00（2024-03-27）" in html and "あと7日" in html
    assert (
        "約束: " in html
        and "対象にならない枠" in html
        and "この枠は小規模事業者" not in html[: html.index("対象にならない枠")]
    )
    assert "GビズID" in html and "082-224-5680" in html


def test_the_calculation_is_explained_in_words_not_formulas(client: Client) -> None:
    html = client.get("/shindan/result/?" + urlencode(EXAMPLE)).content.decode()
    steps = re.findall(r"<details><summary>計算</summary><ul>(.*?)</ul></details>", html, re.S)
    assert steps and "min(" not in html
    assert "補助金額 25,000,000円（計算額 25,000,000円と補助上限額 30,000,000円の小さい方）" in steps[0]


def test_what_would_change_the_answer(client: Client) -> None:
    params = {**EXAMPLE, "industry": "小売業", "employees": "3", "purposes": "sales_channel", "e_machinery": "",
              "e_advertising": "90万", "planned_wage": "1000", "min_wage": "980"}  # fmt: skip
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    assert "事業場内最低賃金を1,020円にすると" in html  # 広島 970 + 50
    assert "持続化補助金 賃金引上げ枠" in html


def test_steps_work_without_javascript_and_keep_answers(client: Client) -> None:
    first = client.get("/shindan/").content.decode()
    assert 'name="industry"' in first and "1. 事業者について" in first
    # moving on without the required answers shows the same step with Japanese errors, keeping what was typed
    again = client.get(
        "/shindan/?" + urlencode({"step": 1, "go": "next", "capital_man": "500"})
    ).content.decode()
    assert (
        "業種を選んでください" in again and "従業員数を入力してください" in again and 'value="500"' in again
    )
    second = client.get(
        "/shindan/?" + urlencode({"step": 1, "go": "next", "industry": "製造業", "employees": "30"})
    ).content.decode()
    assert 'name="min_wage"' in second and 'type="hidden" name="industry" value="製造業"' in second
    back = client.get(
        "/shindan/?" + urlencode({"step": 0, "industry": "製造業", "employees": "30"})
    ).content.decode()
    assert 'value="30"' in back and "<option selected>製造業</option>" in back


def test_htmx_step_returns_only_the_form(client: Client) -> None:
    html = client.get(
        "/shindan/?step=1&go=next&industry=製造業&employees=3", headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="shindan">')


def test_bad_result_request_shows_the_form_with_errors(client: Client) -> None:
    response = client.get("/shindan/result/?" + urlencode({**EXAMPLE, "employees": "たくさん"}))
    html = response.content.decode()
    assert response.status_code == 400
    assert "数字で入力してください" in html and 'value="たくさん"' in html


def test_no_amounts_means_not_given(client: Client) -> None:
    params = {k: v for k, v in EXAMPLE.items() if k != "e_machinery"}
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    assert "経費" in html and "を入力すると" in html
