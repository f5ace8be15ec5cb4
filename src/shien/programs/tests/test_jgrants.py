"""The jGrants-compatible API: parameters, validation, normalisation, filters, envelope, detail."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

import pytest
from django.test import Client

from shien.programs import jgrants
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
BASE = {"sort": "created_date", "order": "ASC", "acceptance": "0"}
AT = datetime(2024, 3, 20, 10, 0, tzinfo=JST)


def search(client: Client, **params: str) -> Any:
    return client.get("/exp/v1/public/subsidies", {**BASE, **params})


def test_envelope_and_list_fields(client: Client) -> None:
    body = search(client, keyword="補助金").json()
    assert body["metadata"]["type"] == "https://developers.digital.go.jp/documents/jgrants/api/"
    assert body["metadata"]["resultset"]["count"] == len(body["result"]) == 18
    item = body["result"][0]
    assert set(item) == set(jgrants.LIST_FIELDS)
    assert len(item["id"]) <= 18 and len(item["name"]) <= 10 and item["name"].startswith("S-")
    assert len({i["id"] for i in body["result"]}) == 18


@pytest.mark.parametrize("keyword", ["IoT", "ＩＴ導入", "it導入", "ｲﾝﾎﾞｲｽ", "インボイス"])
def test_keyword_ignores_case_and_width(client: Client, keyword: str) -> None:
    if keyword == "IoT":  # no shien program mentions IoT in its title or summary except the catalog
        keyword = "ＩｏＴ"
    assert search(client, keyword=keyword).json()["result"], keyword


@pytest.mark.parametrize(
    "params",
    [
        {"keyword": ""},  # empty (one character is answered, as the live service does)
        {"keyword": "x" * 256},
        {"keyword": "補助 金"},
        {"keyword": "補助　金"},
        {"keyword": "補助金", "sort": "title"},
        {"keyword": "補助金", "order": "asc"},
        {"keyword": "補助金", "acceptance": "2"},
        {"keyword": "補助金", "target_number_of_employees": "10名以下"},
        {"keyword": "補助金", "target_area_search": "火星"},
        {"keyword": "補助金", "use_purpose": "x" * 256},
    ],
)
def test_invalid_parameters_are_400_bad_request(client: Client, params: dict[str, str]) -> None:
    response = search(client, **params)
    assert response.status_code == 400 and response.json() == {"message": "Bad request"}


def test_missing_required_parameter(client: Client) -> None:
    response = client.get(
        "/exp/v1/public/subsidies", {"keyword": "補助金", "sort": "created_date", "order": "ASC"}
    )
    assert response.status_code == 400


def test_unknown_parameters_are_ignored(client: Client) -> None:
    assert (
        search(client, keyword="補助金", page="2", limit="5").json()["metadata"]["resultset"]["count"] == 18
    )


def test_filters() -> None:
    def titles(**params: str) -> list[str]:
        return [r["title"] for r in jgrants.search({**BASE, "keyword": "補助金", **params}, at=AT)["result"]]

    assert all("事業承継" in t for t in titles(use_purpose="事業を引き継ぎたい"))
    assert len(titles(use_purpose="事業を引き継ぎたい / 販路拡大・海外展開をしたい")) == 3 + 5 + 1
    # a business's size class finds every frame open to it (持続化: 小規模事業者 only)
    everything = titles()
    assert titles(target_number_of_employees="5名以下") == everything
    assert titles(target_number_of_employees="20名以下") == everything  # 製造業 etc.: 小規模 up to 20
    for size in ("50名以下", "100名以下", "300名以下", "900名以下", "901名以上", "従業員数の制約なし"):
        found = titles(target_number_of_employees=size)
        assert found == [t for t in everything if "持続化" not in t], size
        assert "ものづくり補助金 省力化(オーダーメイド)枠" in found
    assert len(titles(target_area_search="広島県")) == len(titles(target_area_search="中国地方")) == 18
    accepting = titles(acceptance="1")
    assert "ものづくり補助金 省力化(オーダーメイド)枠" in accepting and not any(
        "持続化" in t for t in accepting
    )
    assert titles(industry="製造業") and titles(industry="宿泊業、飲食サービス業")


def test_sorting_by_acceptance_end() -> None:
    result = jgrants.search(
        {**BASE, "keyword": "補助金", "sort": "acceptance_end_datetime", "order": "DESC"}, at=AT
    )["result"]
    ends = [r["acceptance_end_datetime"] for r in result if r["acceptance_end_datetime"]]
    assert ends == sorted(ends, reverse=True)
    undated = [r["acceptance_end_datetime"] is None for r in result]
    assert undated == sorted(undated)  # undated (if any) last


def test_detail_v1_and_v2(client: Client) -> None:
    item = search(client, keyword="省力化(オーダーメイド)").json()["result"][0]
    v1 = client.get(f"/exp/v1/public/subsidies/id/{item['id']}").json()
    assert v1["metadata"]["resultset"]["count"] == 1
    detail = v1["result"][0]
    assert "workflow" not in detail and detail["request_reception_presence"] in ("有", "無")
    assert detail["subsidy_max_limit"] == 100_000_000
    assert detail["detail"].startswith("<p>") and "082-224-5680" in detail["detail"]
    outline = detail["outline_of_grant"][0]
    assert (
        "\n" not in outline["data"] and "省力化" in base64.b64decode(outline["data"], validate=True).decode()
    )
    v2 = client.get(f"/exp/v2/public/subsidies/id/{item['id']}").json()["result"][0]
    assert [w["fiscal_year_round"][:3] for w in v2["workflow"]] == ["17次", "18次"]
    assert v2["workflow"][1]["acceptance_end_datetime"] == "2024-03-27T08:00:00.000Z"  # 17:00 JST in UTC


def test_unknown_id_and_errors(client: Client) -> None:
    assert client.get("/exp/v1/public/subsidies/id/nope").json() == {
        "metadata": {"type": jgrants.METADATA_TYPE, "resultset": {"count": 0}},
        "result": [],
    }
    assert client.post("/exp/v1/public/subsidies").json() == {"message": "Method not allowed"}
    assert client.get("/exp/v1/public/nothing").json() == {"message": "Resource not found"}


def test_an_unmodified_jgrants_client_works_against_shien(live_server: Any) -> None:
    """A client as written for jGrants: only its base URL changes."""
    base_url = live_server.url + "/exp/v1/public"

    def jgrants_search(keyword: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode(
            {"keyword": keyword, "sort": "acceptance_end_datetime", "order": "DESC", "acceptance": "0"}
        )
        with urllib.request.urlopen(f"{base_url}/subsidies?{query}") as response:  # noqa: S310
            return json.load(response)["result"]

    def jgrants_detail(subsidy_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{base_url}/subsidies/id/{subsidy_id}") as response:  # noqa: S310
            return json.load(response)["result"][0]

    found = jgrants_search("持続化")
    assert len(found) == 5
    assert all(item["institution_name"] == "中小企業庁 経営支援部 小規模企業振興課" for item in found)
    detail = jgrants_detail(found[0]["id"])
    assert detail["title"].startswith("持続化補助金") and detail["institution_name"]
    # the link a client shows is shien's own page of the frame, and it opens
    page = detail["front_subsidy_detail_page_url"]
    assert page.startswith(live_server.url + "/programs/jizokuka/#")
    with urllib.request.urlopen(page) as response:  # noqa: S310
        assert response.status == 200 and f'id="{page.rsplit("#", 1)[1]}"' in response.read().decode()
    assert jgrants_search("枠")  # one character: 200, as the live service answers
    with pytest.raises(urllib.error.HTTPError) as error:
        jgrants_search("補助 金")
    assert error.value.code == 400


def test_one_character_keyword_is_answered(client: Client) -> None:
    """The live service answers a one-character keyword with 200 (the documentation says 2–255)."""
    response = search(client, keyword="枠")
    assert response.status_code == 200 and response.json()["metadata"]["resultset"]["count"] == 18
    assert search(client, keyword="鬱").json()["result"] == []  # no match: 200 with none


def test_institution_name_in_list_items_and_v1_detail(client: Client) -> None:
    from shien.rules.registry import registry

    items = search(client, keyword="補助金").json()["result"]
    authorities = {p.authority for p in registry().programs.values()}
    assert all(item["institution_name"] in authorities for item in items)
    monozukuri = next(i for i in items if i["title"].startswith("ものづくり"))
    assert monozukuri["institution_name"] == registry().programs["monozukuri"].authority
    v1 = client.get(f"/exp/v1/public/subsidies/id/{monozukuri['id']}").json()["result"][0]
    assert v1["institution_name"] == monozukuri["institution_name"]


def test_front_page_url_is_shiens_own_absolute_page(client: Client) -> None:
    item = search(client, keyword="省力化(オーダーメイド)").json()["result"][0]
    for version in (1, 2):
        detail = client.get(f"/exp/v{version}/public/subsidies/id/{item['id']}").json()["result"][0]
        assert detail["front_subsidy_detail_page_url"] == "http://testserver/programs/monozukuri/#shoryokuka"
    assert 'id="shoryokuka"' in client.get("/programs/monozukuri/").content.decode()
    assert "front_subsidy_detail_page_url" not in item  # detail only, as jGrants


def test_size_class_of_small_business_frames_comes_from_the_rules() -> None:
    """持続化 is for 小規模事業者: 5 employees in commerce and services, 20 elsewhere, read from the
    rules' definitions (sme.<industry>.small_employees_max), never written in the API."""
    from shien.rules.registry import registry
    from shien.rules.vocab import INDUSTRIES

    params = registry().at(AT.date())
    limits = jgrants.size_limits(AT.date())
    for industry in INDUSTRIES:
        small = params[f"sme.{industry}"]["small_employees_max"]
        assert limits["jizokuka/tsujo"][industry] == small, industry
        assert limits["monozukuri/shoryokuka"][industry] is None  # 中小企業者: capital OR employees
    assert {limits["jizokuka/tsujo"][i] for i in ("卸売業", "小売業", "サービス業")} == {5}
    items = jgrants.search({**BASE, "keyword": "持続化"}, at=AT)["result"]
    assert {i["target_number_of_employees"] for i in items} == {"5名以下 / 20名以下"}
    detail = jgrants.detail(items[0]["id"], version=1, at=AT)["result"][0]["detail"]
    assert "5人以下（卸売業・小売業" in detail and "20人以下（製造業" in detail
