"""The jGrants-compatible read API (補助金情報取得API) over shien's grant frames.

One jGrants "subsidy" per grant frame, with every round (公募回) as a v2 `workflow` entry. Request
validation, keyword normalisation, filters and the response envelope follow the public API, so an
existing jGrants client works unchanged once its base URL points at shien.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from shien.rules import clock, vocab
from shien.rules.columns import Batch
from shien.rules.engine import evaluate
from shien.rules.frames.base import rounds_at
from shien.rules.registry import JST, Frame, Program, Round, registry
from shien.rules.terms import frame_terms
from shien.rules.text import yen
from shien.rules.vec import FAIL
from shien.rules.vocab import PREFECTURES

METADATA_TYPE = "https://developers.digital.go.jp/documents/jgrants/api/"
SORTS = ("created_date", "acceptance_start_datetime", "acceptance_end_datetime")
# jGrants' own vocabulary of size classes (its API's values), not a program's figures: which classes a
# frame is open to is derived from the parameters (`size_limits` probes the engine)
EMPLOYEE_CLASSES = (
    "従業員数の制約なし",
    "5名以下",
    "20名以下",
    "50名以下",
    "100名以下",
    "300名以下",
    "900名以下",
    "901名以上",
)
NO_LIMIT = EMPLOYEE_CLASSES[0]


def _bands() -> dict[str, tuple[int, int | None]]:
    """Each size class of a business as a range of employees: 5名以下 0–5, 20名以下 6–20, …, 901名以上 901–."""
    out: dict[str, tuple[int, int | None]] = {}
    low = 0
    for label in EMPLOYEE_CLASSES[1:]:
        number = int(label.rstrip("名以下上"))
        if label.endswith("以上"):
            out[label] = (number, None)
        else:
            out[label] = (low, number)
            low = number + 1
    return out


BANDS = _bands()
REGIONS: dict[str, tuple[str, ...]] = {
    "北海道地方": ("北海道",),
    "東北地方": ("青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県"),
    "関東・甲信越地方": (
        "茨城県",
        "栃木県",
        "群馬県",
        "埼玉県",
        "千葉県",
        "東京都",
        "神奈川県",
        "新潟県",
        "山梨県",
        "長野県",
    ),
    "東海・北陸地方": ("富山県", "石川県", "福井県", "岐阜県", "静岡県", "愛知県", "三重県"),
    "近畿地方": ("滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県"),
    "中国地方": ("鳥取県", "島根県", "岡山県", "広島県", "山口県"),
    "四国地方": ("徳島県", "香川県", "愛媛県", "高知県"),
    "九州・沖縄地方": ("福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"),
}
AREAS = ("全国", *REGIONS, *PREFECTURES)
INDUSTRIES = (
    "農業、林業", "漁業", "鉱業、採石業、砂利採取業", "建設業", "製造業", "電気・ガス・熱供給・水道業", "情報通信業",
    "運輸業、郵便業", "卸売業、小売業", "金融業、保険業", "不動産業、物品賃貸業", "学術研究、専門・技術サービス業",
    "宿泊業、飲食サービス業", "生活関連サービス業、娯楽業", "教育、学習支援業", "医療、福祉", "複合サービス事業",
    "サービス業（他に分類されないもの）", "公務（他に分類されるものを除く）", "分類不能の産業",
)  # fmt: skip
# shien's purposes in jGrants' use_purpose vocabulary
USE_PURPOSE = {
    "labor_saving": ("設備整備・IT導入をしたい", "雇用・職場環境を改善したい"),
    "high_value_product": ("新たな事業を行いたい", "設備整備・IT導入をしたい"),
    "dx": ("新たな事業を行いたい", "設備整備・IT導入をしたい"),
    "gx": ("新たな事業を行いたい", "エコ・SDGs活動支援がほしい"),
    "overseas": ("販路拡大・海外展開をしたい",),
    "sales_channel": ("販路拡大・海外展開をしたい",),
    "it_tools": ("設備整備・IT導入をしたい",),
    "invoice": ("設備整備・IT導入をしたい",),
    "security": ("設備整備・IT導入をしたい", "安全・防災対策支援がほしい"),
    "succession": ("事業を引き継ぎたい",),
}


class BadRequest(Exception):
    """Answered as 400 {"message": "Bad request"}, as jGrants does."""


def normalize(text: str) -> str:
    """Case, full/half width and katakana width folded: IoT = IOT = ＩｏＴ, ｶﾀｶﾅ = カタカナ."""
    return unicodedata.normalize("NFKC", text).casefold()


def subsidy_id(frame: Frame) -> str:
    return "sh" + hashlib.sha256(frame.key.encode()).hexdigest()[:16]


def subsidy_name(frame: Frame) -> str:
    return f"S-{int(hashlib.sha256(frame.key.encode()).hexdigest()[:12], 16) % 10**8:08d}"


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _day_end(day: Any) -> str | None:
    return None if day is None else _utc(datetime.combine(day, time(23, 59), tzinfo=JST))


def grant_frames() -> list[tuple[Program, Frame]]:
    return [(p, f) for p in registry().programs.values() if p.kind == "grant" for f in p.frames.values()]


@functools.lru_cache(maxsize=16)
def size_limits(day: date) -> dict[str, dict[str, int | None]]:
    """For each grant frame and industry, the most employees a business may have and still pass the
    frame's size criteria (those resting on the 中小企業者・小規模事業者 definitions `sme.<industry>`);
    None where no number of employees fails them (the 中小企業者 test is capital OR employees).

    Derived by running the rules themselves over every industry at every threshold the definitions
    name (and one above it), with nothing else known: the size criteria are `employees <= limit`, so
    the largest passing count is the limit. Nothing about a program's target size is written here.
    """
    params = registry().at(day)
    thresholds = {
        value
        for industry in vocab.INDUSTRIES
        for key, value in params[f"sme.{industry}"].items()
        if key.endswith("employees_max")
    }
    counts = sorted({0, *thresholds, *(t + 1 for t in thresholds)})
    records = [{"industry": i, "employees": n} for i in vocab.INDUSTRIES for n in counts]
    evaluation = evaluate(Batch.from_records(records), datetime.combine(day, time(12), tzinfo=JST))
    size = len(records)
    out: dict[str, dict[str, int | None]] = {}
    for outcome in evaluation.outcomes:
        passes = np.ones(size, dtype=bool)
        for check, state in outcome.checks:
            if check.source.startswith("sme."):
                passes &= np.broadcast_to(np.asarray(state) != FAIL, (size,))
        limits: dict[str, int | None] = {}
        for i, industry in enumerate(vocab.INDUSTRIES):
            row = passes[i * len(counts) : (i + 1) * len(counts)]
            passing = [n for n, ok in zip(counts, row, strict=True) if ok]
            limits[industry] = None if row[-1] else (max(passing) if passing else -1)
        out[outcome.frame.key] = limits
    return out


def employee_target(frame: Frame, day: date) -> tuple[str, frozenset[str], str]:
    """jGrants' target_number_of_employees of a frame (the size classes of businesses it is open to,
    ` / ` joined, or 従業員数の制約なし), those classes, and the limits by industry in words."""
    limits = size_limits(day).get(frame.key, {})
    if not limits or any(v is None for v in limits.values()):
        return NO_LIMIT, frozenset(EMPLOYEE_CLASSES), ""
    classes = [c for c, (low, _) in BANDS.items() if any(v is not None and v >= low for v in limits.values())]
    params = registry().at(day)
    groups: dict[int, list[str]] = {}
    unverified = False
    for industry, limit in limits.items():
        if limit is not None and limit >= 0:
            mark = "※" if params.entry(f"sme.{industry}").status == "unverified" else ""
            unverified = unverified or bool(mark)
            groups.setdefault(limit, []).append(industry + mark)
    text = "、".join(f"{limit}人以下（{'・'.join(names)}）" for limit, names in sorted(groups.items()))
    note = "（※は公募要領で確認できていない値）" if unverified else ""
    return " / ".join(classes), frozenset(classes), f"常時使用する従業員 {text}{note}"


def _created(program: Program, frame: Frame) -> datetime:
    moments = [m for r in program.rounds_for(frame.id) for m in (r.announced_at, r.acceptance_start) if m]
    return min(moments) if moments else datetime(2024, 3, 18, tzinfo=JST)


def _rate_text(terms: dict[str, Any]) -> str:
    rows = terms["rates"]["rows"]
    text = (
        "、".join(f"{r['who']} {r['rate']}以内" for r in rows) if len(rows) > 1 else f"{rows[0]['rate']}以内"
    )
    tiers = terms["rates"]["tiers"]
    return text + (f"（{'、'.join(tiers)}）" if tiers else "")


def _detail_html(program: Program, frame: Frame, terms: dict[str, Any], employees: str = "") -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['employees'])}</td><td>{yen(r['cap_yen'])}</td><td>{yen(r['special_yen']) if r.get('special_yen') else '—'}</td></tr>"
        for r in terms["caps"]["rows"]
    )
    requirements = "".join(f"<li>{e(x)}</li>" for x in terms["requirements"])
    expenses = "、".join(terms["expenses"])
    contact = program.contact
    return (
        f"<p>{e(program.summary)}</p><h3>{e(frame.name)}</h3><p>{e(frame.summary)}</p>"
        + (f"<p>対象となる事業者の規模: {e(employees)}</p>" if employees else "")
        + f"<table><tr><th>区分</th><th>補助上限額</th><th>{e(terms['caps'].get('special_label', '特例'))}</th></tr>{rows}</table>"
        f"<p>補助率: {e(_rate_text(terms))}</p><h4>要件</h4><ul>{requirements}</ul>"
        f"<p>対象経費: {e(expenses)}</p>"
        f"<p>お問合せ先: {e(contact['name'])} {e(contact.get('phone', ''))}</p>"
    )


def _outline_file(program: Program, frame: Frame, terms: dict[str, Any]) -> dict[str, str]:
    lines = [f"{program.name} {frame.name}", frame.summary, f"補助率: {_rate_text(terms)}"]
    lines += [f"{r['employees']}: 上限 {yen(r['cap_yen'])}" for r in terms["caps"]["rows"]]
    data = base64.b64encode("\n".join(lines).encode("utf-8")).decode("ascii")
    return {"name": f"{frame.key.replace('/', '_')}_outline.txt", "data": data}


def _round_of(program: Program, frame: Frame, at: datetime) -> Round | None:
    return rounds_at(at)[frame.key].round


def subsidy(program: Program, frame: Frame, at: datetime) -> dict[str, Any]:
    """Everything shien says about one frame in jGrants' fields (list fields first)."""
    day = at.astimezone(JST).date()
    terms = frame_terms(frame.key, day) or {}
    current = _round_of(program, frame, at)
    employees, employee_classes, employee_text = employee_target(frame, day)
    purposes = list(dict.fromkeys(p for code in frame.purposes for p in USE_PURPOSE[code]))
    return {
        "id": subsidy_id(frame),
        "name": subsidy_name(frame),
        "title": f"{program.short_name} {frame.name}"[:100],
        "target_area_search": "全国",
        "subsidy_max_limit": terms.get("max_cap_yen"),
        "acceptance_start_datetime": _utc(current.acceptance_start) if current else None,
        "acceptance_end_datetime": _utc(current.acceptance_end) if current else None,
        "target_number_of_employees": employees,
        # detail fields
        "subsidy_catch_phrase": frame.summary[:255],
        "detail": _detail_html(program, frame, terms, employee_text),
        "use_purpose": " / ".join(purposes),
        "industry": " / ".join(INDUSTRIES),
        "target_area_detail": "全国",
        "subsidy_rate": _rate_text(terms),
        "project_end_deadline": _day_end(current.project_end) if current else None,
        "request_reception_presence": "有" if current and current.accepting(at) else "無",
        "is_enable_multiple_request": False,
        "front_subsidy_detail_page_url": None,  # shien's own page, set by `detail` (absolute URL)
        "application_guidelines": [],  # the round's documents, set by `detail` (not in lists)
        "outline_of_grant": [_outline_file(program, frame, terms)],
        "application_form": [],
        # v2
        "granttype": "補助金",
        "institution_name": program.authority,
        "workflow": [
            {
                "id": f"{subsidy_id(frame)}-{r.id}"[:30],
                "target_area_search": "全国",
                "target_area_detail": "全国",
                "fiscal_year_round": r.name,
                "acceptance_start_datetime": _utc(r.acceptance_start),
                "acceptance_end_datetime": _utc(r.acceptance_end),
                "project_end_deadline": _day_end(r.project_end),
            }
            for r in program.rounds_for(frame.id)
        ],
        # for searching and sorting, removed from responses
        "_created": _created(program, frame),
        "_accepting": bool(current and current.accepting(at)),
        "_haystack": normalize(
            " ".join([program.name, program.short_name, program.summary, frame.name, frame.summary])
        ),
        "_purposes": set(purposes),
        "_employee_classes": employee_classes,
        "_round": current,
    }


LIST_FIELDS = ("id", "name", "title", "target_area_search", "subsidy_max_limit", "acceptance_start_datetime",
               "acceptance_end_datetime", "target_number_of_employees", "institution_name")  # fmt: skip
V1_DETAIL_EXCLUDE = ("granttype", "workflow")


def _public(
    doc: dict[str, Any], fields: tuple[str, ...] | None = None, exclude: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        k: v
        for k, v in doc.items()
        if not k.startswith("_") and k not in exclude and (fields is None or k in fields)
    }


def envelope(result: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"type": METADATA_TYPE, "resultset": {"count": len(result)}}, "result": result}


def _joined(value: str | None, *, allowed: tuple[str, ...] | None = None) -> set[str] | None:
    if value is None:
        return None
    if len(value) > 255:
        raise BadRequest
    items = {v.strip() for v in value.split(" / ") if v.strip()}
    if allowed is not None and not items <= set(allowed):
        raise BadRequest
    return items


def search(params: dict[str, str], at: datetime | None = None) -> dict[str, Any]:
    """GET /exp/v1/public/subsidies with jGrants' validation; raises BadRequest."""
    at = at or clock.now()
    keyword = params.get("keyword")
    if (
        keyword is None
        or not 1 <= len(keyword) <= 255  # the live service answers a one-character keyword (200)
        or any(c.isspace() for c in unicodedata.normalize("NFKC", keyword))
    ):
        raise BadRequest
    sort, order, acceptance = params.get("sort"), params.get("order"), params.get("acceptance")
    if sort not in SORTS or order not in ("ASC", "DESC") or acceptance not in ("0", "1"):
        raise BadRequest
    purposes = _joined(params.get("use_purpose"))
    industries = _joined(params.get("industry"))
    employees = params.get("target_number_of_employees")
    if employees is not None and employees not in EMPLOYEE_CLASSES:
        raise BadRequest
    area = params.get("target_area_search")
    if area is not None and area not in AREAS:
        raise BadRequest
    needle = normalize(keyword)
    docs = []
    for program, frame in grant_frames():
        doc = subsidy(program, frame, at)
        if needle not in doc["_haystack"]:
            continue
        if acceptance == "1" and not doc["_accepting"]:
            continue
        if purposes and not purposes & doc["_purposes"]:
            continue
        if industries and not industries & set(doc["industry"].split(" / ")):
            continue
        if employees and not (
            doc["target_number_of_employees"] == NO_LIMIT
            if employees == NO_LIMIT
            else employees in doc["_employee_classes"]
        ):  # a business of this size class finds every frame open to it
            continue
        docs.append(doc)  # every shien program is national: any area (全国, region, prefecture) matches

    def key(doc: dict[str, Any]) -> tuple[bool, Any]:
        if sort == "created_date":
            return (False, doc["_created"])
        value = doc[sort]
        return (value is None, value or "")

    docs.sort(key=key, reverse=order == "DESC")
    if order == "DESC":  # keep subsidies without dates last in both orders
        docs.sort(key=lambda d: key(d)[0])
    return envelope([_public(d, LIST_FIELDS) for d in docs])


PageUrl = Callable[[Program, Frame], str]
Documents = Callable[[str, str], dict[str, list[dict[str, str]]]]


def detail(
    subsidy_key: str,
    *,
    version: int,
    at: datetime | None = None,
    page_url: PageUrl | None = None,
    documents: Documents | None = None,
) -> dict[str, Any]:
    """GET /subsidies/id/{id} (v1) and /exp/v2/… (v2). `page_url` gives shien's own page of the frame
    (front_subsidy_detail_page_url); `documents` the current round's files by jGrants field."""
    at = at or clock.now()
    for program, frame in grant_frames():
        if subsidy_id(frame) == subsidy_key:
            doc = subsidy(program, frame, at)
            if page_url is not None:
                doc["front_subsidy_detail_page_url"] = page_url(program, frame)
            current: Round | None = doc["_round"]
            if documents is not None and current is not None:
                for field, files in documents(program.id, current.id).items():
                    doc[field] = [*doc[field], *files]
            return envelope([_public(doc, exclude=V1_DETAIL_EXCLUDE if version == 1 else ())])
    return envelope([])
