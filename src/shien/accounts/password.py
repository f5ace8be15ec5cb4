"""パスワードの変更 (/accounts/password_change/), in place of Django's view of the same URL name.

The current password is checked through `authenticate`, so wrong guesses count like failed logins
(a stolen session cannot try passwords without limit). After the change this session stays logged
in (`update_session_auth_hash`); every other browser's session ends, because the session hash is
derived from the password. The change is audited and the owner is told by email, as for 2FA.
An account without a password (external login only) is pointed to the password reset instead.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth import views as django_views
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from shien.accounts.models import User
from shien.core.notifications import notify
from shien.core.services import audit_record
from shien.rules.text import too_long

MAX_PASSWORD = 200  # characters; longer input is not a password anyone types


def _at_most(limit: int) -> Any:
    def check(value: str) -> None:
        if len(value) > limit:
            raise forms.ValidationError(too_long("パスワード", limit, len(value)), code="max_length")

    return check


class PasswordChangeForm(DjangoPasswordChangeForm):
    """Django's form with Japanese labels and a counted check of the current password."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)
        labels = {
            "old_password": "現在のパスワード",
            "new_password1": "新しいパスワード（10文字以上）",
            "new_password2": "新しいパスワード（確認のためもう一度）",
        }
        for name, label in labels.items():
            self.fields[name].label = label
            self.fields[name].max_length = MAX_PASSWORD
            self.fields[name].widget.attrs["maxlength"] = str(MAX_PASSWORD)
            # a field's validators are fixed when it is built: the limit is checked here, before the
            # current password is (so an over-long one never reaches the password hasher)
            self.fields[name].validators.append(_at_most(MAX_PASSWORD))
        self.fields["new_password1"].help_text = ""

    def clean_old_password(self) -> str:
        old = self.cleaned_data.get("old_password", "")
        checked = authenticate(self.request, username=self.user.email, password=old)
        if checked is None or checked.pk != self.user.pk:
            raise forms.ValidationError(
                "現在のパスワードが正しくありません（5回続けて誤るとロックされます）",
                code="password_incorrect",
            )
        return str(old)


def _no_password() -> dict[str, Any]:
    from shien.accounts.oidc import provider_name

    return {"no_password": True, "oidc_provider_name": provider_name()}


@method_decorator(never_cache, name="dispatch")
class PasswordChangeView(django_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_usable_password():
            return render(request, self.template_name, _no_password())
        return super().get(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_usable_password():
            return render(request, self.template_name, _no_password(), status=409)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400  # a refused form, as everywhere in the app
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        user: User = form.user
        with transaction.atomic():
            response = super().form_valid(form)  # saves, then keeps this session (update_session_auth_hash)
            audit = audit_record(
                actor=user,
                action="auth.password_change",
                obj=user,
                reason="利用者がパスワードを変更しました（ほかのブラウザ・端末のログインは終了）",
            )
            notify(
                user=user,
                kind="security.password",
                title="パスワードを変更しました",
                body="あなたの shien のアカウントでパスワードが変更され、ほかのブラウザ・端末のログインは終了しました。"
                "心当たりがない場合は、すぐにパスワードを再設定し、事務局にご連絡ください。",
                url="/accounts/security/",
                key=f"audit:{audit.pk}",
            )
        return response


@method_decorator(never_cache, name="dispatch")
class PasswordChangeDoneView(django_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
