"""The 診断: parsing, steps without JavaScript, results, what-if, no storage."""

from __future__ import annotations

import re
from typing import Any
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


@pytest.mark.parametrize(
    "as_of",
    # with a zone, the first and last days cannot even be moved to Japan time (OverflowError)
    ["0001-01-01", "0003-12-31", "2101-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"],
)
def test_a_date_outside_the_supported_years_is_a_message_not_an_error(client: Client, as_of: str) -> None:
    """An anonymous shared link with as_of=0001-01-01: the 2000–2100 range in Japanese, not a 500."""
    response = client.get("/shindan/result/?" + urlencode({**EXAMPLE, "as_of": as_of}))
    html = response.content.decode()
    assert response.status_code == 400
    assert "判定日時は2000年1月1日から2100年12月31日までの日時を指定してください" in html
    assert f'value="{as_of}"' not in html  # 「結果を見る」 again gives the answer as of now
    assert client.get("/shindan/result/?" + urlencode({**EXAMPLE, "as_of": "2000-01-01"})).status_code == 200


def test_no_amounts_means_not_given(client: Client) -> None:
    params = {k: v for k, v in EXAMPLE.items() if k != "e_machinery"}
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    assert "経費" in html and "を入力すると" in html


# -- 「こうすると変わります」: only changes that change the answer or the amount (issue 9 §4) --------------


def test_a_higher_cap_with_the_same_amount_is_not_offered_as_a_change(client: Client) -> None:
    """省力化(カタログ型): 賃上げ要件 raises the cap 500万 → 750万, but a 100万円 product stays 50万円."""
    params = {**EXAMPLE, "employees": "10", "e_machinery": "3000万", "e_catalog_product": "100万"}
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    section = html[html.index("こうすると変わります") :]
    section = section[: section.index("</section>")]
    assert "補助額 500,000円 → 500,000円" not in section and "5,000,000円 → 7,500,000円" not in section
    # the ものづくり frame's amount does change (1,500万 → 1,750万): that one is offered
    assert "ものづくり補助金 省力化(オーダーメイド)枠" in section
    assert "補助額 15,000,000円 → 17,500,000円" in section


def test_change_effect_counts_eligibility_and_amount_only() -> None:
    from shien.navigator.services import change_effect

    old = {"eligible": True, "cap_yen": 15_000_000, "subsidy_yen": 1_000_000}
    same_amount = {"eligible": True, "cap_yen": 20_000_000, "subsidy_yen": 1_000_000}
    assert change_effect(old, same_amount, amounts_given=True) is None
    assert change_effect(old, {**same_amount, "subsidy_yen": 1_000_001}, amounts_given=True)
    assert "対象になります" in (
        change_effect({**old, "eligible": False}, same_amount, amounts_given=True) or ""
    )
    assert change_effect(old, {**same_amount, "eligible": False}, amounts_given=True) is None
    # without expenses the amount is not computed: the cap is then what the business sees
    assert "経費を入力すると" in (change_effect(old, same_amount, amounts_given=False) or "")


# -- one timeline per frame's round (issue 9 §4) ----------------------------------------------------------

DATE_IN_TEXT = re.compile(r"\d+年\d+月|\d+月\d+日")
RICH = {
    "business": {
        "industry": "製造業", "employees": 5, "capital_yen": 10_000_000, "prefecture": "広島県",
        "min_hourly_wage_yen": 1000, "labor_shortage": True, "was_tax_exempt": True, "invoice_registered": True,
        "atotsugi_finalist": True, "tokutei_sogyo_support": True, "founded_on": "2023-04-01",
    },
    "plan": {
        "purposes": ["labor_saving", "high_value_product", "dx", "overseas", "sales_channel", "it_tools",
                     "invoice", "security", "succession"],
        "expenses": [
            {"category": "machinery", "amount_yen": 30_000_000},
            {"category": "catalog_product", "amount_yen": 1_000_000},
            {"category": "software", "amount_yen": 1_000_000, "processes": 4, "invoice_functions": ["accounting"]},
            {"category": "ordering_software", "amount_yen": 1_000_000},
            {"category": "security_service", "amount_yen": 400_000},
            {"category": "advertising", "amount_yen": 1_000_000},
            {"category": "expert", "amount_yen": 3_000_000},
        ],
        "consortium_members": 10,
        "succession_types": ["kotai", "buyer", "haigyo"],
        "commitments": {"planned_min_hourly_wage_yen": 1300, "planned_employees": 30,
                        "value_added_cagr_pct": "5", "payroll_cagr_pct": "3"},
    },
}  # fmt: skip


def test_every_round_shows_one_ordered_timeline_that_every_due_date_is_on() -> None:
    """For every frame of every dated round, at that round's opening: the card's dates are one ordered
    timeline of that round, each 期限 of a commitment or obligation is a labelled point of it, and no
    step carries a date of its own (a program-wide text cannot know a later round's dates)."""
    from datetime import timedelta

    from shien.navigator.services import results
    from shien.rules.registry import registry
    from shien.rules.schema import Profile

    profile = Profile.model_validate(RICH)
    cards = dues = 0
    for program in registry().programs.values():
        if program.kind != "grant":
            continue
        for step in program.steps:
            assert not DATE_IN_TEXT.search(step), (program.id, step)
        for rnd in program.rounds:
            if rnd.acceptance_start is None:
                continue
            out = results(profile, rnd.acceptance_start + timedelta(minutes=1))
            for card in (*out["eligible"], *out["ineligible"]):
                if card["program"] != program.id or (card["round"] or {}).get("id") != rnd.id:
                    continue
                cards += 1
                timeline = card["timeline"]
                moments = [t["moment"] for t in timeline if t.get("moment")]
                assert moments == sorted(moments) and len(moments) >= 2, (rnd.key, timeline)
                keys = [t["key"] for t in timeline]
                assert keys.index("acceptance_start") < keys.index("acceptance_end"), rnd.key
                on_timeline = {t["iso"]: t["label"] for t in timeline if t["iso"]}
                for item in (*card["conditions"], *card["obligations"]):
                    if item["due"]:
                        dues += 1
                        assert item["due"] in on_timeline, (rnd.key, card["frame"], item)
                        assert item["due_label"] == on_timeline[item["due"]]
    assert cards >= 20 and dues >= 20, (cards, dues)  # the loop really looked at cards with dates


def test_the_card_shows_its_round_timeline_in_order(client: Client) -> None:
    params = {"industry": "小売業", "employees": "3", "prefecture": "広島県", "purposes": "sales_channel",
              "e_advertising": "60万", "as_of": "2024-03-01"}  # fmt: skip
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    card = html[html.index("持続化補助金 通常枠") :]
    card = card[: card.index("</section>")]
    labels = ["公募開始: ", "申請受付開始: ", "事業支援計画書（様式4）の交付の受付締切（原則）: ", "申請締切: ",
              "採択発表: ", "補助事業の実施期限: ", "実績報告の期限: "]  # fmt: skip
    positions = [card.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "実績報告の期限: 令和6年11月10日(日)（2024-11-10）" in card
    assert "（期限 令和6年11月10日(日)（2024-11-10）＝実績報告の期限）" in card
    assert "2024年11月10日まで" not in card and "令和6年12月10日" not in card  # no second, unlabelled date


@pytest.fixture
def practice_rounds() -> Any:
    """The demo server's practice rounds, for this test only (the registry is shared)."""
    from shien.rules import clock, engine
    from shien.rules.demo import add_practice_rounds
    from shien.rules.frames import base
    from shien.rules.registry import registry

    saved = dict(registry().programs)
    base.rounds_at.cache_clear()
    engine._round_dict.cache_clear()
    add_practice_rounds(clock.now())
    yield
    registry().programs.clear()
    registry().programs.update(saved)
    base.rounds_at.cache_clear()
    engine._round_dict.cache_clear()


def test_a_demo_practice_round_card_has_only_its_own_dates(client: Client, practice_rounds: Any) -> None:
    """The demo's 練習用の公募回 copies the rules of 18次 but not its dates: the card must not say
    実績報告「令和6年12月10日まで」 next to a 期限 in the practice round's future."""
    params = {k: v for k, v in EXAMPLE.items() if k != "as_of"}
    html = client.get("/shindan/result/?" + urlencode(params)).content.decode()
    card = html[html.index("ものづくり補助金 省力化(オーダーメイド)枠") :]
    card = card[: card.index("</section>")]
    assert "練習用の公募回" in card
    assert "令和6年12月10日" not in card and "採択発表" not in card and "公募開始" not in card
    timeline = re.findall(r'<li(?: class="past")? data-key="(\w+)">', card)
    assert timeline == ["acceptance_start", "acceptance_end", "project_end"]
    assert "＝補助事業の実施・実績報告の期限）" in card and "＝申請締切）" in card
