"""法人番号 and インボイス登録番号: format and check digit (python-stdnum's jp.cn)."""

from __future__ import annotations

import unicodedata

from stdnum.jp import cn

from shien.core.errors import DomainError


def corporate_number(value: str) -> str:
    """13 digits with a valid check digit; full-width digits and hyphens are accepted."""
    digits = unicodedata.normalize("NFKC", value).replace("-", "").replace(" ", "")
    if not digits:
        return ""
    if not (digits.isdigit() and len(digits) == 13):
        raise DomainError("invalid_corporate_number", "法人番号は13桁の数字で入力してください")
    if not cn.is_valid(digits):
        raise DomainError(
            "invalid_corporate_number", "法人番号のチェックディジット（先頭の1桁）が正しくありません"
        )
    return digits


def invoice_number(value: str) -> str:
    """T + 13 digits, the 13 digits with the same check digit as a 法人番号."""
    text = unicodedata.normalize("NFKC", value).replace("-", "").replace(" ", "").upper()
    if not text:
        return ""
    if not (text.startswith("T") and text[1:].isdigit() and len(text) == 14):
        raise DomainError(
            "invalid_invoice_number",
            "インボイス登録番号は T と13桁の数字で入力してください（例: T1234567890123）",
        )
    if not cn.is_valid(text[1:]):
        raise DomainError(
            "invalid_invoice_number", "インボイス登録番号の番号部分のチェックディジットが正しくありません"
        )
    return text
