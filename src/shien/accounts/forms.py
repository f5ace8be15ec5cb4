"""Forms of the accounts pages (Japanese labels and errors)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password

from shien.accounts.models import User
from shien.rules.errors import DomainError
from shien.rules.text import parse_yen
from shien.rules.vocab import INDUSTRIES, PREFECTURES


class SignupForm(forms.Form):
    """The first step: name and address. Whether the address is registered is never said here (the
    answer is the same either way); the mail to the address says it (`views.signup`)."""

    name = forms.CharField(
        label="氏名", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="メールアドレス",
        max_length=254,
        error_messages={"invalid": "メールアドレスの形式で入力してください"},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class SignupPasswordForm(forms.Form):
    """The second step, from the link in the mail: the password (checked against the name and address)."""

    password = forms.CharField(
        label="パスワード（10文字以上）",
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="パスワード（確認のためもう一度）",
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, name: str, **kwargs: Any) -> None:
        self.email, self.name = email, name
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, again = data.get("password"), data.get("password_again")
        if password and again and password != again:
            self.add_error("password_again", "1回目と同じパスワードを入力してください")
        elif password:
            try:
                validate_password(password, User(email=self.email, name=self.name))
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


MAX_EMPLOYEES = 1_000_000
MAX_CAPITAL_YEN = 10**15  # 1,000兆円: any real company; beyond it the database column would overflow


class YenField(forms.CharField):
    """An amount as people write it (1,500,000 / 150万 / １５０万円), up to `max_yen`."""

    def __init__(self, *, max_yen: int, **kwargs: Any) -> None:
        self.max_yen = max_yen
        super().__init__(**kwargs)
        self.widget.attrs.update({"maxlength": "40", "inputmode": "text"})

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        if len(text) > 40:
            raise forms.ValidationError("金額は40文字以内で入力してください")
        try:
            amount = parse_yen(text, limit=None)
        except DomainError:
            raise forms.ValidationError("1,500,000 や 150万 のように、円の金額を入力してください") from None
        if amount > self.max_yen:
            raise forms.ValidationError(f"{self.max_yen:,}円以下で入力してください")
        return amount


class OrganizationForm(forms.Form):
    name = forms.CharField(label="事業者名", max_length=200)
    prefecture = forms.ChoiceField(
        label="所在地（都道府県）", choices=[("", "選んでください"), *[(p, p) for p in PREFECTURES]]
    )
    industry = forms.ChoiceField(
        label="業種", choices=[("", "選んでください"), *[(i, i) for i in INDUSTRIES]]
    )
    employees = forms.IntegerField(
        label="常時使用する従業員数",
        min_value=0,
        max_value=MAX_EMPLOYEES,
        error_messages={
            "max_value": f"{MAX_EMPLOYEES:,}人以下で入力してください",
            "invalid": "人数を数字で入力してください",
        },
    )
    capital_yen = YenField(label="資本金（円）", max_yen=MAX_CAPITAL_YEN, required=False)
    corporate_number = forms.CharField(
        label="法人番号（13桁、個人事業主は空欄）", max_length=20, required=False
    )
    invoice_number = forms.CharField(label="インボイス登録番号（T＋13桁）", max_length=20, required=False)


# a refusal about one field is shown at that field (and marks it invalid), the rest above the form
FIELD_OF = {"invalid_corporate_number": "corporate_number", "duplicate": "corporate_number",
            "invalid_invoice_number": "invoice_number"}  # fmt: skip
