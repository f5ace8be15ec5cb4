"""Forms of the accounts pages (Japanese labels and errors)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import MaxLengthValidator

from shien.accounts.models import User
from shien.core.errors import DomainError
from shien.rules.text import echo, parse_yen, too_long
from shien.rules.vocab import INDUSTRIES, PREFECTURES


class Limited(forms.CharField):
    """A text field whose too-long error has the app's one wording (`rules.text.too_long`, not Django's
    「この値は 100 文字以下でなければなりません」) and which a refused form shows again only up to its
    limit and a margin (`rules.text.echo`), not a pasted megabyte whole. `what` names it in the message
    where the label says more (「法人番号（13桁、個人事業主は空欄）」)."""

    def __init__(self, *, max_length: int, what: str = "", **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.what = what
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]

    def validate(self, value: Any) -> None:
        super().validate(value)
        if self.max_length is not None and value and len(value) > self.max_length:
            what = self.what or str(self.label)
            raise forms.ValidationError(too_long(what, self.max_length, len(value)), code="max_length")

    def bound_data(self, data: Any, initial: Any) -> Any:
        data = super().bound_data(data, initial)
        return echo(data, self.max_length) if isinstance(data, str) and self.max_length else data


class LimitedEmail(Limited, forms.EmailField):
    pass


class SignupForm(forms.Form):
    """The first step: name and address. Whether the address is registered is never said here (the
    answer is the same either way); the mail to the address says it (`views.signup`)."""

    name = Limited(label="氏名", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = LimitedEmail(
        label="メールアドレス",
        max_length=254,
        error_messages={"invalid": "メールアドレスの形式で入力してください"},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class SignupPasswordForm(forms.Form):
    """The second step, from the link in the mail: the password (checked against the name and address)."""

    password = Limited(
        label="パスワード（10文字以上）",
        what="パスワード",
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    password_again = Limited(
        label="パスワード（確認のためもう一度）",
        what="パスワード",
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
    name = Limited(label="事業者名", max_length=200)
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
    corporate_number = Limited(
        label="法人番号（13桁、個人事業主は空欄）", what="法人番号", max_length=20, required=False
    )
    invoice_number = Limited(
        label="インボイス登録番号（T＋13桁）", what="インボイス登録番号", max_length=20, required=False
    )


# a refusal about one field is shown at that field (and marks it invalid), the rest above the form
FIELD_OF = {"invalid_corporate_number": "corporate_number", "duplicate": "corporate_number",
            "invalid_invoice_number": "invoice_number"}  # fmt: skip
