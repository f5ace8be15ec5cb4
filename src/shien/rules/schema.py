"""The input documents of the engine: a business, its plan, and the moment of evaluation.

Pydantic models with Japanese field labels; `japanese_errors` turns a ValidationError into one
Japanese message per field, naming the field by its path and its label. `read_profiles` is the one
entry point from text (a JSON object, an array, or JSON Lines) to validated profiles, shared by
`shien estimate` and `POST /api/v1/estimate`: whatever the text, it returns profiles or raises a
DomainError with Japanese field errors, items and lines counted from 1 (「2件目」「3行目」).
"""

from __future__ import annotations

import json
import re
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
    WithJsonSchema,
    field_validator,
)

from shien.rules.errors import DomainError
from shien.rules.registry import JST
from shien.rules.vocab import (
    AS_OF_FIRST_YEAR,
    AS_OF_LAST_YEAR,
    AS_OF_RANGE_MESSAGE,
    EXPENSE_CATEGORIES,
    FALSE_WORDS,
    INDUSTRIES,
    INVOICE_FUNCTIONS,
    MAX_YEN,
    PREFECTURES,
    PURPOSES,
    SUCCESSION_TYPES,
    TRUE_WORDS,
    YES_NO_MESSAGE,
    item_label,
    line_label,
    normalize_prefecture,
    parse_yes_no,
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


def _yes_no(value: Any) -> Any:
    """はい／いいえ as in the CSV columns (vocab.TRUE_WORDS / FALSE_WORDS); booleans pass through."""
    if isinstance(value, str):
        parsed = parse_yes_no(value)
        if parsed is None:
            raise ValueError(YES_NO_MESSAGE)
        return parsed
    return value


YES_NO_SCHEMA = {
    "anyOf": [
        {"type": "boolean"},
        {
            "type": "string",
            "enum": [*TRUE_WORDS, *FALSE_WORDS],
            "description": "はい／いいえの語（CSV の列と同じ）",
        },
    ]
}
YesNo = Annotated[bool, BeforeValidator(_yes_no), WithJsonSchema(YES_NO_SCHEMA)]


def _text(value: Any) -> Any:
    """Text that can be written back out as UTF-8 (a lone surrogate from "\\ud800" cannot)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("文字として読めない値が含まれています") from None
    return value


Text = Annotated[str, BeforeValidator(_text)]


def _known_rounds(value: Any) -> Any:
    """申請済みの公募回: each a round the registry knows, written program/round (monozukuri/17)."""
    from shien.rules.columns import BY_NAME

    if not isinstance(value, list):
        return value
    known = BY_NAME["applied_rounds"].vocab
    for item in value:
        if isinstance(item, str) and _nfkc(item) not in known:
            _text(item)
            shown = item if len(item) <= 40 else item[:40] + "…"
            raise ValueError(
                f"公募回「{shown}」はありません。制度ID/回（例: monozukuri/17）で指定してください"
                "（一覧は shien programs または GET /api/v1/programs）"
            )
    return [_nfkc(item) for item in value]


def check_as_of(value: datetime) -> datetime:
    """A 判定日時 within the supported years, in Asia/Tokyo (no zone: Japan time); else ValueError.

    The year is checked before any arithmetic: a time in year 1 cannot even be moved to UTC."""
    if not AS_OF_FIRST_YEAR <= value.year <= AS_OF_LAST_YEAR:
        raise ValueError(AS_OF_RANGE_MESSAGE)
    return (value.replace(tzinfo=JST) if value.tzinfo is None else value).astimezone(JST)


AS_OF_FORMAT_MESSAGE = "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください"


def parse_as_of(text: str, *, field: str = "as_of") -> datetime:
    """An ISO 8601 date or datetime given as text (an option, a query parameter); a date alone is
    its midnight in Japan time. Anything else is a DomainError naming `field`, in Japanese."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value), datetime.min.time())
        except ValueError:
            moment = None
    try:
        if moment is None:
            raise ValueError(AS_OF_FORMAT_MESSAGE)
        return check_as_of(moment)
    except ValueError as exc:
        error = {"field": field, "label": "判定日時", "message": str(exc)}
        raise DomainError("invalid_input", "入力に誤りがあります", [error]) from None


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
    deficit: YesNo | None = Field(None, title="赤字（直近1期の課税所得金額が0以下）")
    was_tax_exempt: YesNo | None = Field(None, title="免税事業者であった")
    invoice_registered: YesNo | None = Field(None, title="適格請求書発行事業者の登録")
    revitalization: YesNo | None = Field(None, title="再生事業者")
    operating_margin_decline: YesNo | None = Field(None, title="営業利益率の低下")
    labor_shortage: YesNo | None = Field(None, title="人手不足の状態")
    atotsugi_finalist: YesNo | None = Field(None, title="アトツギ甲子園のファイナリスト等")
    founded_on: date | None = Field(None, title="創業日・設立日")
    tokutei_sogyo_support: YesNo | None = Field(None, title="特定創業支援等事業による支援")
    applied_rounds: Annotated[list[str] | None, BeforeValidator(_known_rounds)] = Field(
        None, title="申請済みの公募回（例: monozukuri/17）"
    )


class Expense(_Model):
    category: ExpenseCategory = Field(title="経費区分")
    amount_yen: Yen = Field(title="金額（税抜・円）")
    processes: int | None = Field(None, ge=1, le=50, title="ITツールの業務プロセス数")
    invoice_functions: list[InvoiceFunction] | None = Field(
        None, title="インボイス対応の機能（会計・受発注・決済）"
    )
    description: Text | None = Field(None, max_length=200, title="内容")


class Commitments(_Model):
    wage_increase_special: YesNo = Field(False, title="賃上げの特例（大幅賃上げ特例・賃上げ要件）を選択")
    covid_recovery_special: YesNo = Field(False, title="新型コロナ回復加速化特例を選択")
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
    id: Text | None = Field(None, max_length=100, title="識別子")
    as_of: datetime | None = Field(
        None,
        title="判定日時",
        description=f"ISO 8601（タイムゾーンが無ければ日本時間）。{AS_OF_FIRST_YEAR}年1月1日から"
        f"{AS_OF_LAST_YEAR}年12月31日まで。省略すると現在",
    )
    business: Business = Field(title="事業者")
    plan: Plan = Field(default_factory=Plan, title="計画")

    @field_validator("as_of")
    @classmethod
    def _tokyo(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is read as Japan time; every instant is kept in Asia/Tokyo."""
        return None if value is None else check_as_of(value)


# -- Japanese errors ---------------------------------------------------------------------------

_MESSAGES: dict[str, str] = {
    "missing": "必須項目です",
    "extra_forbidden": "定義されていない項目です（項目名の綴りを確認してください）",
    "int_type": "整数を指定してください",
    "int_parsing": "整数を指定してください",
    "int_from_float": "整数を指定してください（小数は使えません）",
    "int_parsing_size": "整数が大きすぎます",
    "greater_than_equal": "{ge}以上の値を指定してください",
    "less_than_equal": "{le}以下の値を指定してください",
    "greater_than": "{gt}より大きい値を指定してください",
    "less_than": "{lt}より小さい値を指定してください",
    "bool_type": YES_NO_MESSAGE,
    "bool_parsing": YES_NO_MESSAGE,
    "date_type": "日付は YYYY-MM-DD 形式で指定してください",
    "date_parsing": "日付は YYYY-MM-DD 形式で指定してください",
    "date_from_datetime_parsing": "日付は YYYY-MM-DD 形式で指定してください",
    "date_from_datetime_inexact": "日付は YYYY-MM-DD 形式で指定してください",
    "datetime_type": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "datetime_parsing": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "datetime_object_invalid": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "datetime_from_date_parsing": "日時は ISO 8601 形式（例: 2024-03-20T10:00:00+09:00）で指定してください",
    "list_type": "配列（[ ... ]）を指定してください",
    "model_type": "オブジェクト（{ ... }）を指定してください",
    "model_attributes_type": "オブジェクト（{ ... }）を指定してください",
    "dict_type": "オブジェクト（{ ... }）を指定してください",
    "string_type": "文字列を指定してください",
    "string_unicode": "文字として読めない値が含まれています",
    "string_too_long": "{max_length}文字以内で指定してください",
    "too_long": "{max_length}件以内で指定してください",
    "decimal_type": "数値を指定してください",
    "decimal_parsing": "数値を指定してください",
    "decimal_max_places": "小数点以下{decimal_places}桁までで指定してください",
    "decimal_max_digits": "{max_digits}桁以内の数値を指定してください",
    "decimal_whole_digits": "整数部分は{whole_digits}桁以内で指定してください",
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


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _fill(template: str, ctx: dict[str, Any]) -> str:
    """Put pydantic's limits into a message. Not `str.format`: messages hold literal braces
    (「オブジェクト（{ ... }）」), and only the named placeholders the context has are replaced."""
    return _PLACEHOLDER.sub(lambda m: str(_number(ctx[m[1]])) if m[1] in ctx else m[0], template)


def _shown(name: str) -> str:
    """A key as given by the user, safe to print: lone surrogates replaced, long keys shortened."""
    safe = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name)
    return safe if len(safe) <= 60 else safe[:60] + "…"


def field_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("literal[", "function-", "nullable[", "list[")):
            continue  # pydantic's union branch names are not fields
        else:
            out += ("." if out else "") + _shown(part)
    return out


FieldError = dict[str, Any]  # {field, label, message} and, for one of several inputs, item / line


def japanese_errors(
    exc: ValidationError | list[Any], *, item: int | None = None, line: int | None = None
) -> list[FieldError]:
    """One `{field, label, message}` per error, in Japanese; deduplicated across union branches.

    For one of several inputs, `item` (its place in the array or the JSON Lines, from 1) and `line`
    (its line in a JSON Lines text, from 1) are added; `field` is the path inside that input."""
    out: list[FieldError] = []
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
            message = _fill(_MESSAGES.get(kind, "入力値が正しくありません"), error.get("ctx") or {})
        last = next((p for p in reversed(error["loc"]) if isinstance(p, str)), "")
        label = "" if kind == "extra_forbidden" else _LABELS.get(last, "")
        entry: FieldError = {"field": path or "(入力全体)", "label": label, "message": message}
        if item is not None:
            entry["item"] = item
        if line is not None:
            entry["line"] = line
        out.append(entry)
    return out


def where(error: FieldError) -> str:
    """「3行目 」 for a JSON Lines input, 「2件目 」 for an array element, nothing for a single input."""
    if error.get("line") is not None:
        return line_label(error["line"]) + " "
    if error.get("item") is not None:
        return item_label(error["item"]) + " "
    return ""


def format_errors(errors: list[FieldError]) -> str:
    """One line per error, as `shien screen` writes them: 「3行目 business.industry（業種）: …」."""
    return "\n".join(
        f"{where(e)}{e['field']}（{e['label']}）: {e['message']}"
        if e["label"]
        else f"{where(e)}{e['field']}: {e['message']}"
        for e in errors
    )


# -- from text to profiles ------------------------------------------------------------------------


def read_documents(text: str, *, json_lines: bool | None = None) -> tuple[list[tuple[Any, int | None]], bool]:
    """A JSON object, a JSON array, or JSON Lines → ([(document, line), ...], single).

    `json_lines`: True reads JSON Lines, False one JSON value, None decides (a text that is not one
    JSON value but has several lines is JSON Lines). Lines are counted from 1 and blank lines count
    (an editor's line number); the line of an array element is None."""
    text = text.removeprefix("\ufeff")
    stripped = text.strip()
    if not stripped:
        raise DomainError(
            "invalid_json", "入力が空です（JSONオブジェクト、配列、または JSON Lines を指定してください）"
        )
    if not json_lines:
        try:
            doc = json.loads(text)  # the whole text: the error's line is the editor's line
        except (ValueError, RecursionError) as whole:  # ValueError: also a number of over 4,300 digits
            lines = [line for line in stripped.split("\n") if line.strip()]
            if json_lines is False or len(lines) < 2:
                at = (
                    f"（{whole.lineno}行目 {whole.colno}文字目）"
                    if isinstance(whole, json.JSONDecodeError)
                    else ""
                )
                raise DomainError("invalid_json", f"JSONとして読めません{at}") from None
        else:
            if isinstance(doc, dict):
                return [(doc, None)], True
            if isinstance(doc, list):
                return [(d, None) for d in doc], False
            raise DomainError("invalid_input", "JSONオブジェクト、配列、または JSON Lines を指定してください")
    docs: list[tuple[Any, int | None]] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            docs.append((json.loads(line), number))
        except (ValueError, RecursionError):
            raise DomainError(
                "invalid_json", f"JSON Lines の{line_label(number)}がJSONとして読めません"
            ) from None
    return docs, False


def validate_profiles(documents: list[tuple[Any, int | None]], *, single: bool) -> list[Profile]:
    """Every document checked; all the problems at once, each naming its input from 1."""
    profiles: list[Profile] = []
    errors: list[FieldError] = []
    for index, (doc, line) in enumerate(documents):
        item = None if single else index + 1
        if not isinstance(doc, dict):
            errors.append(
                {
                    "field": "(入力全体)",
                    "label": "",
                    "message": "JSONオブジェクト（{ ... }）を指定してください",
                }
                | ({} if item is None else {"item": item})
                | ({} if line is None else {"line": line})
            )
            continue
        try:
            profiles.append(Profile.model_validate(doc))
        except ValidationError as exc:
            errors.extend(japanese_errors(exc, item=item, line=line))
    if errors:
        raise DomainError("invalid_input", "入力に誤りがあります", errors)
    return profiles


# The charsets a body may declare, by the names Python's codecs give them (and the WHATWG labels Python
# does not know): UTF-8 (JSON's own, RFC 8259), UTF-16/32, and the Japanese ones that Excel, old
# systems and mail still write. Shift_JIS is read as Windows-31J (cp932), as browsers do: what Windows
# calls Shift_JIS has ①, ㈱ and NEC's characters. Any other codec Python knows is not offered to a
# client (punycode and idna decode in quadratic time, unicode_escape reinterprets the text).
CHARSETS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "utf-16-le": "utf-16-le", "utf-16-be": "utf-16-be",
            "utf-32": "utf-32", "utf-32-le": "utf-32-le", "utf-32-be": "utf-32-be", "ascii": "utf-8-sig",
            "shift_jis": "cp932", "cp932": "cp932", "windows-31j": "cp932", "x-sjis": "cp932",
            "euc_jp": "euc_jp", "iso2022_jp": "iso2022_jp"}  # fmt: skip
SEND_UTF8 = (
    "UTF-8 で送ってください（Shift_JIS・EUC-JP・ISO-2022-JP なら Content-Type の charset で指定できます）"
)


def decode_body(body: bytes, charset: str | None = None) -> str:
    """A request body as text, by its declared charset (none: UTF-8, with or without a BOM).

    DomainError `unsupported_charset` (HTTP 415) for a charset not in CHARSETS, and `invalid_input`
    (422) for bytes that are not text in the charset, each naming the charset: read any other way,
    a Shift_JIS body became replacement characters and then a misleading error about 業種."""
    import codecs

    label = (charset or "utf-8").strip().strip('"').lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        name = label
    codec = CHARSETS.get(name)
    if codec is None:
        raise DomainError(
            "unsupported_charset", f"文字コード charset={label[:40]} の本文は読めません。{SEND_UTF8}"
        )
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        shown = "UTF-8" if codec == "utf-8-sig" else label
        raise DomainError(
            "invalid_input",
            f"本文が {shown} の文字として読めません（{exc.start + 1:,}バイト目）。{SEND_UTF8}",
        ) from None


def read_profiles(
    text: str, *, json_lines: bool | None = None, limit: int | None = None
) -> tuple[list[Profile], bool]:
    """The estimate entry point's input: text → (profiles, single), or a DomainError in Japanese."""
    documents, single = read_documents(text, json_lines=json_lines)
    if limit is not None and len(documents) > limit:
        raise DomainError("too_many", f"一度に判定できるのは{limit:,}件までです")
    return validate_profiles(documents, single=single), single
