"""The site's one error type and its registry of codes: what each code answers over HTTP.

`DomainError` (a stable `code`, a Japanese message, per-field details) is defined at the bottom, in
`rules.errors`, because the rules raise it for their own input and must not import Django or `core`;
every other layer raises and catches that same class (or a subclass: `OverBudget`, `OIDCError`) through
this module. `CODES` holds every code any layer raises, each with its HTTP status and a Japanese title;
`http_status()` is the one place a code becomes a status — for pages (`core.middleware.DomainErrorMiddleware`
and the views that show a form again with what was typed) and for JSON (the API's exception handler).
A test keeps the registry complete: a code raised anywhere but missing here fails it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shien.rules.errors import DomainError

__all__ = ["CODES", "Code", "DomainError", "http_status", "title"]


@dataclass(frozen=True, slots=True)
class Code:
    status: int
    title: str


_BAD = 400  # the request cannot be done as sent; the message says why
CODES: dict[str, Code] = {
    # access: an object one may not see is the same 404 as one that does not exist (the selectors say
    # not_found for both); forbidden is an action refused on an object one may see
    "forbidden": Code(403, "この操作はできません"),
    "not_found": Code(404, "見つかりません"),
    "inactive": Code(403, "ログインできません"),
    "access_denied": Code(403, "ログインが許可されませんでした"),
    # the object is not in a state for this (often: someone else, or an earlier click, got there first)
    "invalid_state": Code(409, "この状態ではできません"),
    "conflict": Code(409, "ほかの変更と重なりました"),
    "change_pending": Code(409, "審査中の計画変更があります"),
    "conflict_of_interest": Code(409, "利益相反があります"),
    "conflict_not_declared": Code(409, "利益相反の申告が必要です"),
    "ranking_changed": Code(409, "順位が変わりました"),
    "no_budget": Code(409, "予算が設定されていません"),
    "nothing_to_adopt": Code(409, "採択できる申請がありません"),
    "over_budget": Code(409, "予算を超えます"),
    "duplicate": Code(409, "すでに登録されています"),
    "last_owner": Code(409, "代表者が1人だけです"),
    "not_enabled": Code(409, "2段階認証は設定されていません"),
    "already_enabled": Code(409, "2段階認証は設定済みです"),
    "no_device": Code(409, "2段階認証の設定がありません"),
    # what was sent is wrong: the form again, each value with its message
    "invalid_input": Code(422, "入力に誤りがあります"),
    "invalid_json": Code(422, "JSONとして読めません"),
    "too_many": Code(422, "件数が多すぎます"),
    "reason_required": Code(422, "理由が必要です"),
    "not_eligible": Code(422, "要件を満たしていません"),
    "evidence_missing": Code(422, "証憑が足りません"),
    "invalid_amount": Code(422, "金額に誤りがあります"),
    "invalid_score": Code(422, "採点に誤りがあります"),
    "bad_type": Code(422, "このファイルは受け付けられません"),
    "empty": Code(422, "ファイルがありません"),
    "too_large": Code(413, "大きすぎます"),
    "unsupported_charset": Code(415, "文字コードを読めません"),
    "rate_limited": Code(429, "回数の上限に達しました"),
    "throttled": Code(429, "しばらく待ってからお試しください"),
    "locked": Code(429, "一時的にロックされています"),
    "too_long": Code(_BAD, "長すぎます"),
    "baseline_required": Code(_BAD, "基準年度の数値が必要です"),
    "deadline_passed": Code(_BAD, "締切を過ぎています"),
    "form4_deadline_passed": Code(_BAD, "様式4の受付締切を過ぎています"),
    "form4_missing": Code(_BAD, "様式4がありません"),
    "no_round": Code(_BAD, "公募回がありません"),
    "not_open": Code(_BAD, "受付期間外です"),
    "not_yet": Code(_BAD, "まだ提出できません"),
    "unknown_action": Code(_BAD, "この操作はありません"),
    "invalid_corporate_number": Code(_BAD, "法人番号に誤りがあります"),
    "invalid_invoice_number": Code(_BAD, "登録番号に誤りがあります"),
    "wrong_code": Code(_BAD, "確認コードが正しくありません"),
    # login through an external provider (OpenID Connect)
    "state_mismatch": Code(_BAD, "ログインの確認情報が一致しません"),
    "provider_error": Code(_BAD, "外部サービスでログインできませんでした"),
    "login_required": Code(_BAD, "外部サービスへのログインが必要です"),
    "consent_required": Code(_BAD, "外部サービスでの同意が必要です"),
    "interaction_required": Code(_BAD, "外部サービスでの操作が必要です"),
    "temporarily_unavailable": Code(_BAD, "外部サービスが一時的に利用できません"),
    "no_code": Code(_BAD, "認可コードがありません"),
    "userinfo_mismatch": Code(_BAD, "利用者情報が一致しません"),
    "token_error": Code(_BAD, "IDトークンを受け取れませんでした"),
    "invalid_token": Code(_BAD, "IDトークンを検証できませんでした"),
    "no_email": Code(409, "メールアドレスがありません"),
    "email_unverified": Code(409, "メールアドレスが確認されていません"),
    "discovery": Code(502, "認証サービスの設定に誤りがあります"),
    "unreachable": Code(502, "認証サービスと通信できません"),
    "unexpected": Code(502, "ログインの処理中に問題が起きました"),
    # the command line's `shien screen` (its exit code, not HTTP; registered so every code is here)
    "file_not_found": Code(_BAD, "ファイルが見つかりません"),
    "invalid_output": Code(_BAD, "出力先に誤りがあります"),
    "invalid_population": Code(_BAD, "母集団のファイルに誤りがあります"),
    "unknown_columns": Code(_BAD, "不明な列があります"),
    "unknown_encoding": Code(_BAD, "文字コードを判別できません"),
    "unsupported_format": Code(_BAD, "この形式は読めません"),
}
UNKNOWN = Code(_BAD, "処理できませんでした")


def http_status(error: DomainError | str) -> int:
    """The HTTP status of an error (or of a code); a code not in the registry answers 400."""
    code = error if isinstance(error, str) else error.code
    return CODES.get(code, UNKNOWN).status


def title(error: DomainError | str) -> str:
    """The Japanese heading of an error page for this error (or code)."""
    code = error if isinstance(error, str) else error.code
    return CODES.get(code, UNKNOWN).title
