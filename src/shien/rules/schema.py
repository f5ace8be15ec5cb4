"""The input documents of the engine: a business, its plan, and the moment of evaluation.

Pydantic models with Japanese field labels; `japanese_errors` turns a ValidationError into one
Japanese message per field, naming the field by its path and its label.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from shien.rules.registry import JST
from shien.rules.vocab import (
    EXPENSE_CATEGORIES,
    INDUSTRIES,
    INVOICE_FUNCTIONS,
    MAX_YEN,
    PREFECTURES,
    PURPOSES,
    SUCCESSION_TYPES,
    normalize_prefecture,
)


def _nfkc(value: Any) -> Any:
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


if TYPE_CHECKING:  # the vocabularies are data; to the type checker they are strings
    Industry: TypeAlias = str
    Prefecture: TypeAlias = str
    Purpose: TypeAlias = str
    ExpenseCategory: TypeAlias = str
    InvoiceFunction: TypeAlias = str
    SuccessionType: TypeAlias = str
else:
    Industry = Literal[INDUSTRIES]
    Prefecture = Literal[PREFECTURES]
    Purpose = Literal[tuple(PURPOSES)]
    ExpenseCategory = Literal[tuple(EXPENSE_CATEGORIES)]
    InvoiceFunction = Literal[tuple(INVOICE_FUNCTIONS)]
    SuccessionType = Literal[tuple(SUCCESSION_TYPES)]
Yen = Annotated[int, Field(ge=0, le=MAX_YEN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Business(_Model):
    prefecture: Annotated[Prefecture | None, BeforeValidator(normalize_prefecture)] = Field(
        None, title="所在地（都道府県）"
    )
    industry: Annotated[Industry, BeforeValidator(_nfkc)] = Field(title="業種")
    capital_yen: Yen | None = Field(None, title="資本金（円）")
    employees: int = Field(ge=0, le=1_000_000, title="常時使用する従業員数")
    min_hourly_wage_yen: int | None = Field(None, ge=1, le=100_000, title="事業場内最低賃金（時間額・円）")
    deficit: bool | None = Field(None, title="赤字（直近1期の課税所得金額が0以下）")
    was_tax_exempt: bool | None = Field(None, title="免税事業者であった")
    invoice_registered: bool | None = Field(None, title="適格請求書発行事業者の登録")
    revitalization: bool | None = Field(None, title="再生事業者")
    operating_margin_decline: bool | None = Field(None, title="営業利益率の低下")
    labor_shortage: bool | None = Field(None, title="人手不足の状態")
    atotsugi_finalist: bool | None = Field(None, title="アトツギ甲子園のファイナリスト等")
    founded_on: date | None = Field(None, title="創業日・設立日")
    tokutei_sogyo_support: bool | None = Field(None, title="特定創業支援等事業による支援")
    applied_rounds: list[str] | None = Field(None, title="申請済みの公募回（例: monozukuri/17）")


class Expense(_Model):
    category: ExpenseCategory = Field(title="経費区分")
    amount_yen: Yen = Field(title="金額（税抜・円）")
    processes: int | None = Field(None, ge=1, le=50, title="ITツールの業務プロセス数")
    invoice_functions: list[InvoiceFunction] | None = Field(
        None, title="インボイス対応の機能（会計・受発注・決済）"
    )
    description: str | None = Field(None, max_length=200, title="内容")


class Commitments(_Model):
    wage_increase_special: bool = Field(False, title="賃上げの特例（大幅賃上げ特例・賃上げ要件）を選択")
    covid_recovery_special: bool = Field(False, title="新型コロナ回復加速化特例を選択")
    planned_min_hourly_wage_yen: int | None = Field(
        None, ge=1, le=100_000, title="計画する事業場内最低賃金（時間額・円）"
    )
    planned_employees: int | None = Field(None, ge=0, le=1_000_000, title="事業終了時の従業員数の計画")
    value_added_cagr_pct: Decimal | None = Field(
        None, ge=-100, le=1000, decimal_places=2, title="付加価値額の年平均成長率の計画（%）"
    )
    payroll_cagr_pct: Decimal | None = Field(
        None, ge=-100, le=1000, decimal_places=2, title="給与支給総額の年平均成長率の計画（%）"
    )


class Plan(_Model):
    purposes: list[Purpose] | None = Field(None, title="取組の目的")
    expenses: list[Expense] | None = Field(None, max_length=200, title="経費")
    commitments: Commitments = Field(default_factory=Commitments, title="計画・約束")
    consortium_members: int | None = Field(None, ge=1, le=100_000, title="連携する事業者数")
    succession_types: list[SuccessionType] | None = Field(None, title="事業承継の類型")

    @field_validator("expenses")
    @classmethod
    def _total_fits(cls, expenses: list[Expense] | None) -> list[Expense] | None:
        if expenses and sum(e.amount_yen for e in expenses) > MAX_YEN:
            raise ValueError("経費の合計が大きすぎます（1兆円以下にしてください）")
        return expenses


class Profile(_Model):
    id: str | None = Field(None, max_length=100, title="識別子")
    as_of: datetime | None = Field(None, title="判定日時")
    business: Business = Field(title="事業者")
    plan: Plan = Field(default_factory=Plan, title="計画")

    @field_validator("as_of")
    @classmethod
    def _tokyo(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is read as Japan time; every instant is kept in Asia/Tokyo."""
        if value is None:
            return None
        return (value.replace(tzinfo=JST) if value.tzinfo is None else value).astimezone(JST)


# -- Japanese errors ---------------------------------------------------------------------------

_MESSAGES: dict[str, str] = {
    "missing": "必須項目です",
    "extra_forbidden": "定義されていない項目です（項目名の綴りを確認してください）",
    "int_type": "整数を指定してください",
    "int_parsing": "整数を指定してください",
    "int_from_float": "整数を指定してください（小数は使えません）",
    "greater_than_equal": "{ge}以上の値を指定してください",
    "less_than_equal": "{le}以下の値を指定してください",
    "greater_than": "{gt}より大きい値を指定してください",
    "less_than": "{lt}より小さい値を指定してください",
    "bool_type": "true または false を指定してください",
    "bool_parsing": "true または false を指定してください",
    "date_type": "日付は YYYY-MM-DD 形式で指定してください",
    "date_parsing": "日付は YYYY-MM-DD 形式で指定してください",
    "date_from_datetime_parsing": "日付は YYYY-MM-DD 形式で指定してください",
    "date_from_datetime_inexact": "日付は YYYY-MM-DD 形式で指定してください",
    "datetime_type": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "datetime_parsing": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "datetime_from_date_parsing": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "list_type": "配列（[ ... ]）を指定してください",
    "model_type": "オブジェクト（{ ... }）を指定してください",
    "model_attributes_type": "オブジェクト（{ ... }）を指定してください",
    "dict_type": "オブジェクト（{ ... }）を指定してください",
    "string_type": "文字列を指定してください",
    "string_too_long": "{max_length}文字以内で指定してください",
    "too_long": "{max_length}件以内で指定してください",
    "decimal_type": "数値を指定してください",
    "decimal_parsing": "数値を指定してください",
    "decimal_max_places": "小数点以下{decimal_places}桁までで指定してください",
    "finite_number": "有限の数値を指定してください",
    "frozen_instance": "変更できません",
}

_LABELS: dict[str, str] = {}


def _collect_labels(model: type[BaseModel]) -> None:
    for name, info in model.model_fields.items():
        if info.title and name not in _LABELS:
            _LABELS[name] = info.title
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", ()) + (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _collect_labels(candidate)


for _model in (Profile, Business, Plan, Expense, Commitments):
    _collect_labels(_model)


def _choices(error: dict[str, Any]) -> str:
    expected = str(error.get("ctx", {}).get("expected", ""))
    loc = [p for p in error["loc"] if isinstance(p, str)]
    if loc and loc[-1] == "prefecture":
        return "都道府県名（例: 広島県）を指定してください"
    return f"次のいずれかを指定してください: {expected.replace(chr(39), '').replace(' or ', ', ')}"


def _number(value: Any) -> Any:
    """A limit as amounts are written (1,000,000,000,000); anything else as it is."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return f"{value:,}"
    return value


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("literal[", "function-", "nullable[", "list[")):
            continue  # pydantic's union branch names are not fields
        else:
            out += ("." if out else "") + part
    return out


def japanese_errors(exc: ValidationError | list[Any], *, prefix: str = "") -> list[dict[str, str]]:
    """One `{field, label, message}` per error, in Japanese; deduplicated across union branches."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    errors = exc.errors(include_url=False) if isinstance(exc, ValidationError) else exc
    for error in errors:
        path = field_path(error["loc"])
        if path in seen:
            continue
        seen.add(path)
        kind = error["type"]
        if kind in ("literal_error", "enum"):
            message = _choices(dict(error))
        elif kind == "value_error":
            message = str(error["msg"]).removeprefix("Value error, ")
        else:
            template = _MESSAGES.get(kind, "入力値が正しくありません")
            message = template.format(**{k: _number(v) for k, v in (error.get("ctx") or {}).items()})
        last = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
        label = "" if kind == "extra_forbidden" else _LABELS.get(last, "")
        full = f"{prefix}{path}" if path else prefix.rstrip(".") or "(入力全体)"
        out.append({"field": full, "label": label, "message": message})
    return out


def format_errors(errors: list[dict[str, str]]) -> str:
    return "\n".join(
        f"{e['field']}（{e['label']}）: {e['message']}" if e["label"] else f"{e['field']}: {e['message']}"
        for e in errors
    )
