"""Japanese formatting for amounts, rates and dates (和暦 with 西暦), shared by the CLI and the web."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from fractions import Fraction
from typing import Final

from shien.rules.errors import DomainError
from shien.rules.registry import JST
from shien.rules.vocab import MAX_YEN

# (first day, era name); the first year of an era is written 元年
ERAS: Final[tuple[tuple[date, str], ...]] = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
)
WEEKDAYS: Final = "月火水木金土日"


def yen(amount: int) -> str:
    return f"{amount:,}円"


def man_yen(amount: int) -> str:
    """1,500万円 style where the amount is a whole number of 万円, else the plain yen figure."""
    if amount and amount % 10_000 == 0:
        man = amount // 10_000
        if man % 10_000 == 0:
            return f"{man // 10_000:,}億円"
        return f"{man:,}万円"
    return yen(amount)


def period(months: int) -> str:
    """A span given in months, as people say it: 2年 for 24 months, else 18か月."""
    return f"{months // 12}年" if months % 12 == 0 else f"{months}か月"


def period_months(months: int) -> str:
    """The same span with its months first: 24か月（2年）, or 18か月."""
    return f"{months}か月（{months // 12}年）" if months % 12 == 0 else f"{months}か月"


def year_range(span: dict[str, int]) -> str:
    """A plan period parameter {min, max} (years) as written: 3〜5年."""
    return f"{span['min']}〜{span['max']}年"


def rate(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def wareki_year(day: date) -> str:
    for start, era in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{era}{'元' if year == 1 else year}年"
    return f"{day.year}年"


def wareki(day: date | datetime, *, weekday: bool = True) -> str:
    """令和6年3月27日(水) — the calendar date in 和暦."""
    if isinstance(day, datetime):
        day = day.astimezone(JST).date()
    out = f"{wareki_year(day)}{day.month}月{day.day}日"
    return f"{out}({WEEKDAYS[day.weekday()]})" if weekday else out


def wareki_datetime(moment: datetime, *, seconds: bool = False) -> str:
    """令和6年3月27日(水) 17:00（2024-03-27）— the instant in JST, 和暦 with 西暦 (a receipt: to the second)."""
    local = moment.astimezone(JST)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{wareki(local)} {clock}（{local:%Y-%m-%d}）"


def wareki_date(day: date) -> str:
    return f"{wareki(day)}（{day.isoformat()}）"


def wareki_month(year: int, month: int) -> str:
    """令和6年3月（2024年3月）."""
    return f"{wareki_year(date(year, month, 1))}{month}月（{year}年{month}月）"


def parse_yen(text: str, *, limit: int | None = MAX_YEN) -> int:
    """'300,000,000' / '３億' / '1.5億円' / '2,500万' → int yen; anything else is a DomainError, and so is
    an amount above `limit` (None: the caller checks the size and words its own message)."""
    value = unicodedata.normalize("NFKC", text).replace(",", "").replace("円", "").strip()
    scale = 1
    for suffix, factor in (("億", 100_000_000), ("万", 10_000)):
        if value.endswith(suffix):
            value, scale = value[: -len(suffix)], factor
            break
    whole, dot, part = value.partition(".")
    if not whole.isdecimal() or (dot and not part.isdecimal()):  # isdigit() would pass "²", int() not
        raise DomainError("invalid_input", "金額は数字で入力してください（例: 300,000,000 または 3億）")
    if limit is not None and len(whole.lstrip("0") + part) > 20:
        raise DomainError("invalid_input", "金額が大きすぎます")
    amount = Fraction(int(whole + part), 10 ** len(part)) * scale
    if amount.denominator != 1:
        raise DomainError("invalid_input", "金額は1円単位で入力してください")
    if limit is not None and amount > limit:
        raise DomainError("invalid_input", "金額が大きすぎます")
    return int(amount)


# A refused form shows a too-long value again only up to its limit and this many characters more: the
# user sees where the text went over and loses only what could never be accepted (a pasted megabyte
# is not sent back whole).
ECHO_MARGIN: Final = 200


def too_long(label: str, max_length: int, length: int) -> str:
    """The one wording of every length error (pages, API, CLI): 「氏名は100文字以内で入力してください
    （いまは100,000文字。300文字を超える部分は表示していません）」."""
    shown = max_length + ECHO_MARGIN
    cut = f"。{shown:,}文字を超える部分は表示していません" if length > shown else ""
    return f"{label}は{max_length:,}文字以内で入力してください（いまは{length:,}文字{cut}）"


def echo(value: str, max_length: int) -> str:
    """What a refused form shows again of a value limited to `max_length` characters (see ECHO_MARGIN)."""
    return value[: max_length + ECHO_MARGIN]
