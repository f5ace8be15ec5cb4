"""The 診断: query parameters → profile → ranked results, reasons and what would change the answer.

Nothing is stored: the answers live in the URL, so a result can be shared and printed as it is.
"""

from __future__ import annotations

import copy
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.http import QueryDict
from pydantic import ValidationError

from shien.core.errors import DomainError
from shien.rules import clock
from shien.rules.demo import PRACTICE_ID
from shien.rules.engine import estimate
from shien.rules.registry import JST, registry
from shien.rules.schema import Profile, japanese_errors
from shien.rules.text import parse_yen, wareki_date, wareki_datetime, yen
from shien.rules.vocab import EXPENSE_CATEGORIES, INDUSTRIES, INVOICE_FUNCTIONS, PREFECTURES, PURPOSES

# the expense lines the form asks about, in the order a business thinks of them
FORM_EXPENSES = (
    "machinery", "catalog_product", "software", "cloud", "pc", "register", "ordering_software", "security_service",
    "advertising", "website", "exhibition", "outsourcing", "expert", "installation", "closure",
)  # fmt: skip
TRI_FIELDS = {
    "deficit": "直近1期の課税所得が0以下（赤字）",  # the definition of 赤字, not a program's figure
    "was_tax_exempt": "免税事業者である（であった）",
    "invoice_registered": "適格請求書発行事業者（インボイス）の登録を受けている",
    "labor_shortage": "人手不足の状態にある",
    "revitalization": "再生事業者である",
}
STEPS = (
    ("business", "事業者について"),
    ("wages", "賃金と税"),
    ("plan", "やりたいこと"),
)
FIELD_STEP = {
    "industry": 0, "employees": 0, "capital_man": 0, "prefecture": 0,
    "min_wage": 1, "planned_wage": 1, **dict.fromkeys(TRI_FIELDS, 1),
    "purposes": 2, "processes": 2, "functions": 2, "wage_special": 2, **{f"e_{c}": 2 for c in FORM_EXPENSES},
    "as_of": -1,  # not asked in the steps; kept through them
}  # fmt: skip
PATH_FIELD = {
    "business.industry": "industry", "business.employees": "employees", "business.capital_yen": "capital_man",
    "business.prefecture": "prefecture", "business.min_hourly_wage_yen": "min_wage",
    "plan.commitments.planned_min_hourly_wage_yen": "planned_wage", "plan.purposes": "purposes",
}  # fmt: skip


def _number(text: str) -> int | None:
    """'1,500,000' / '１５０万' / '150万円' / '1.5億' → int; '' → None; raises ValueError otherwise
    (the one amount reader, `parse_yen`, with an empty answer meaning "not given")."""
    if not unicodedata.normalize("NFKC", text).strip():
        return None
    try:
        return parse_yen(text, limit=None)
    except DomainError:
        raise ValueError(text) from None


@dataclass
class Answers:
    """The form's answers as typed, the profile built from them, and per-field Japanese errors."""

    values: dict[str, Any]
    profile: Profile | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> str:
        q = QueryDict(mutable=True)
        for key, value in self.values.items():
            if isinstance(value, list):
                q.setlist(key, value)
            elif value not in ("", None):
                q[key] = value
        return q.urlencode()


def read_as_of(params: QueryDict) -> datetime | None:
    """An optional 判定日 (YYYY-MM-DD or ISO datetime, Japan time when no zone); None means now."""
    text = params.get("as_of", "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text if "T" in text else f"{text}T12:00:00")
    except ValueError:
        return None
    # not moved to Japan time here: a time in year 1 or 9999 cannot be (views: check_as_of does)
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment


def read_answers(params: QueryDict, *, require_plan: bool = True) -> Answers:
    values: dict[str, Any] = {
        k: params.get(k, "").strip()[:50] for k in FIELD_STEP if k not in ("purposes", "functions")
    }
    values["as_of"] = params.get("as_of", "").strip()[:25]
    values["purposes"] = [p for p in params.getlist("purposes") if p in PURPOSES]
    values["functions"] = [f for f in params.getlist("functions") if f in INVOICE_FUNCTIONS]
    answers = Answers(values)
    numbers: dict[str, int | None] = {}
    for name in (
        "employees",
        "capital_man",
        "min_wage",
        "planned_wage",
        "processes",
        *(f"e_{c}" for c in FORM_EXPENSES),
    ):
        try:
            numbers[name] = _number(values.get(name, ""))
        except ValueError:
            answers.errors[name] = "数字で入力してください（例: 1,500,000 または 150万）"
    if not values["industry"]:
        answers.errors["industry"] = "業種を選んでください"
    elif values["industry"] not in INDUSTRIES:
        answers.errors["industry"] = "一覧から選んでください"
    if values["prefecture"] and values["prefecture"] not in PREFECTURES:
        answers.errors["prefecture"] = "一覧から選んでください"
    if numbers.get("employees") is None and "employees" not in answers.errors:
        answers.errors["employees"] = "従業員数を入力してください（いない場合は 0）"
    if answers.errors:
        return answers
    expenses = []
    for code in FORM_EXPENSES:
        amount = numbers.get(f"e_{code}")
        if amount:
            item: dict[str, Any] = {"category": code, "amount_yen": amount}
            if code == "software":
                if numbers.get("processes"):
                    item["processes"] = numbers["processes"]
                if values["functions"]:
                    item["invoice_functions"] = values["functions"]
            expenses.append(item)
    capital = numbers.get("capital_man")
    doc = {
        "business": {
            "industry": values["industry"],
            "employees": numbers["employees"],
            "capital_yen": capital * 10_000 if capital is not None else None,
            "prefecture": values["prefecture"] or None,
            "min_hourly_wage_yen": numbers.get("min_wage"),
            **{k: {"yes": True, "no": False}.get(values.get(k, "")) for k in TRI_FIELDS},
        },
        "plan": {
            "purposes": values["purposes"] if require_plan else None,
            "expenses": expenses or None,  # no amounts entered: not given, not zero
            "commitments": {
                "planned_min_hourly_wage_yen": numbers.get("planned_wage"),
                "wage_increase_special": values.get("wage_special") == "1",
            },
        },
    }
    try:
        answers.profile = Profile.model_validate(doc)
    except ValidationError as exc:
        for error in japanese_errors(exc):
            key = PATH_FIELD.get(error["field"], "employees" if "employees" in error["field"] else "purposes")
            answers.errors.setdefault(key, error["message"])
    return answers


def first_step_with_error(answers: Answers) -> int:
    return min((FIELD_STEP.get(k, 0) for k in answers.errors), default=0)


# -- results ------------------------------------------------------------------------------------------


def _days_left(result: dict[str, Any], at: datetime) -> int | None:
    r = result.get("round") or {}
    if not r.get("accepting") or not r.get("acceptance_end"):
        return None
    return (datetime.fromisoformat(r["acceptance_end"]).date() - at.astimezone(JST).date()).days


# the dated milestones of a round, as the card labels them (the order is the calendar's, see below)
MILESTONES = (
    ("announced_at", "公募開始"),
    ("acceptance_start", "申請受付開始"),
    ("form4_deadline", "事業支援計画書（様式4）の交付の受付締切（原則）"),
    ("acceptance_end", "申請締切"),
    ("project_end", "補助事業の実施期限"),
    ("report_deadline", "実績報告の期限"),
)


def _moment(value: date | datetime) -> datetime:
    """A date (a whole day: its end) or an instant, comparable with each other, in Japan time."""
    if isinstance(value, datetime):
        return value.astimezone(JST)
    return datetime.combine(value, time(23, 59, 59), tzinfo=JST)


def round_timeline(program_id: str, round_id: str, at: datetime) -> list[dict[str, Any]]:
    """One ordered timeline for a frame's round: every date the card shows comes from here.

    Each item: key (the round field), label, iso (as the engine writes dues), text (和暦 with 西暦) and
    past. The 採択発表 (a text such as 「5月中旬（予定）」) follows the 申請締切.
    """
    rnd = registry().round(program_id, round_id)
    if rnd is None:
        raise KeyError(f"no round {program_id}/{round_id}")  # callers pass a round the engine found
    items: list[dict[str, Any]] = []
    for key, label in MILESTONES:
        value = getattr(rnd, key)
        if value is None or (key == "announced_at" and rnd.id == PRACTICE_ID):
            continue  # a demo practice round keeps the copied round's announcement only to pick its rules
        if key == "project_end" and rnd.report_deadline is None:
            label = "補助事業の実施・実績報告の期限"
        moment = _moment(value)
        items.append(
            {
                "key": key,
                "label": label,
                "iso": _iso(value),
                "text": wareki_datetime(value) if isinstance(value, datetime) else wareki_date(value),
                "moment": moment,
                "past": moment < at,
            }
        )
    items.sort(key=lambda item: item["moment"])
    if rnd.results:
        after = next((i + 1 for i, item in enumerate(items) if item["key"] == "acceptance_end"), len(items))
        items.insert(
            after, {"key": "results", "label": "採択発表", "iso": None, "text": rnd.results, "past": False}
        )
    return items


def _iso(value: date | datetime) -> str:
    return value.astimezone(JST).isoformat() if isinstance(value, datetime) else value.isoformat()


def _label_dues(result: dict[str, Any], timeline: list[dict[str, Any]]) -> None:
    """Name each 期限 after the milestone of the round it is (they come from the same round)."""
    labels = {item["iso"]: item["label"] for item in timeline if item["iso"]}
    for item in (*result["conditions"], *result["obligations"]):
        if item.get("due"):
            item["due_label"] = labels.get(item["due"])


def results(profile: Profile, at: datetime | None = None) -> dict[str, Any]:
    at = at or clock.now()
    document = estimate([profile], as_of=at)[0]
    grants = [r for r in document["results"] if r["kind"] == "grant"]
    for r in grants:
        r["days_left"] = _days_left(r, at)
        r["timeline"] = round_timeline(r["program"], r["round"]["id"], at) if r["round"] else []
        _label_dues(r, r["timeline"])
        r["deadline_text"] = (
            wareki_datetime(datetime.fromisoformat(r["round"]["acceptance_end"]))
            if r["round"] and r["round"]["acceptance_end"]
            else None
        )
        r["reasons"] = [c["message"] for c in r["criteria"] if c["passed"] is False]
        r["steps"] = registry().programs[r["program"]].steps
    eligible = sorted(
        (r for r in grants if r["eligible"]),
        key=lambda r: (-r["subsidy_yen"], not (r["round"] or {}).get("accepting")),
    )
    others = [r for r in grants if not r["eligible"]]
    # frames that fail only on purpose are not what this business wants; show them last
    others.sort(
        key=lambda r: (
            [c["code"] for c in r["criteria"] if c["passed"] is False] == ["purpose"],
            r["program"],
        )
    )
    return {
        "as_of": at,
        "as_of_text": wareki_datetime(at),
        "eligible": eligible,
        "ineligible": others,
        "non_grants": [r for r in document["results"] if r["kind"] == "non_grant"],
        "what_if": what_if(profile, grants, at),
    }


def what_if(profile: Profile, base: list[dict[str, Any]], at: datetime) -> list[dict[str, str]]:
    """Small changes the business could make, and the frames they would open or raise."""
    doc = profile.model_dump(mode="json", exclude_none=True)
    business, commitments = doc["business"], doc["plan"].setdefault("commitments", {})
    changes: list[tuple[str, dict[str, Any]]] = []
    prefecture = business.get("prefecture")
    params = registry().at(at.astimezone(JST).date())
    regional = params[f"minimum_wage.{prefecture}"] if prefecture else None
    if regional is not None:  # unknown for that day (not yet in the registry): no wage to suggest
        current = business.get("min_hourly_wage_yen")
        premium = params["jizokuka.chingin.min_wage_premium_yen"]
        target = (current if current and current >= regional + premium else regional) + premium
        for wage in sorted({target, regional + params["monozukuri.basic.min_wage_premium_yen"]}):
            if (commitments.get("planned_min_hourly_wage_yen") or 0) < wage:
                changed = copy.deepcopy(doc)
                changed["plan"]["commitments"]["planned_min_hourly_wage_yen"] = wage
                changes.append((f"事業場内最低賃金を{wage:,}円にすると", changed))
    if business.get("was_tax_exempt") and not business.get("invoice_registered"):
        changed = copy.deepcopy(doc)
        changed["business"]["invoice_registered"] = True
        changes.append(("適格請求書発行事業者（インボイス）の登録を受けると", changed))
    if not commitments.get("wage_increase_special"):
        changed = copy.deepcopy(doc)
        changed["plan"]["commitments"]["wage_increase_special"] = True
        changes.append(("大幅な賃上げ（賃上げ特例・賃上げ要件）に取り組むと", changed))
    if not changes:
        return []
    documents = estimate([Profile.model_validate(d) for _, d in changes], as_of=at)
    before = {(r["program"], r["frame"]): r for r in base}
    amounts_given = bool(doc["plan"].get("expenses"))
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()  # the smallest change that has an effect is enough
    for (label, _), document in zip(changes, documents, strict=True):
        for r in document["results"]:
            old = before.get((r["program"], r["frame"]))
            if r["kind"] != "grant" or old is None or not r["eligible"]:
                continue
            effect = change_effect(old, r, amounts_given=amounts_given)
            if effect is None:
                continue
            name = f"{r['program_name']} {r['frame_name']}"
            if (name, effect) not in seen:
                seen.add((name, effect))
                out.append({"change": label, "frame": name, "effect": effect})
    return out


def change_effect(old: dict[str, Any], new: dict[str, Any], *, amounts_given: bool) -> str | None:
    """What a change does to one frame's answer, or None when it changes nothing the business gets.

    Only a change of eligibility or of the amount counts: a higher cap with the same 補助額 is no
    change. Without any expenses the 補助額 is not computed, so there the cap is the amount in view.
    """
    if not new["eligible"]:
        return None
    if not old["eligible"]:
        return f"対象になります（上限 {yen(new['cap_yen'])}、補助額 {yen(new['subsidy_yen'])}）"
    if new["subsidy_yen"] != old["subsidy_yen"]:
        return f"補助額 {yen(old['subsidy_yen'])} → {yen(new['subsidy_yen'])}（上限 {yen(old['cap_yen'])} → {yen(new['cap_yen'])}）"
    if not amounts_given and new["cap_yen"] != old["cap_yen"]:
        return f"上限 {yen(old['cap_yen'])} → {yen(new['cap_yen'])}（経費を入力すると補助額を計算できます）"
    return None


def hidden_fields(
    answers: Answers, *, except_step: int | None = None, exclude: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """Answers not asked on this page, carried along as hidden inputs (so going back loses nothing)."""
    out: list[tuple[str, str]] = []
    for name, value in answers.values.items():
        if name in exclude or (except_step is not None and FIELD_STEP.get(name) == except_step):
            continue
        for item in value if isinstance(value, list) else [value]:
            if item:
                out.append((name, item))
    return out


def form_context(answers: Answers, step: int) -> dict[str, Any]:
    return {
        "answers": answers,
        "values": answers.values,
        "errors": answers.errors,
        "step": step,
        "steps": STEPS,
        "industries": INDUSTRIES,
        "prefectures": PREFECTURES,
        "purposes": PURPOSES,
        "expenses": [(c, EXPENSE_CATEGORIES[c]) for c in FORM_EXPENSES],
        "functions": INVOICE_FUNCTIONS,
        "tri_fields": TRI_FIELDS,
        "hidden": [
            (k, v)
            for k, v in answers.values.items()
            if FIELD_STEP.get(k) != step and not isinstance(v, list) and v
        ]
        + [
            (k, item)
            for k, v in answers.values.items()
            if FIELD_STEP.get(k) != step and isinstance(v, list)
            for item in v
        ],
    }
