"""Account pages: sign-up (confirmed by mail), a new organization. Login: auth_views; マイページ: portal."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters

from shien.accounts import mail_throttle
from shien.accounts.forms import FIELD_OF, OrganizationForm, SignupForm, SignupPasswordForm
from shien.accounts.models import User
from shien.accounts.selectors import home, request_user
from shien.accounts.services import organization_create
from shien.accounts.throttle import client_ip
from shien.core.errors import DomainError
from shien.core.notifications import email_address
from shien.core.services import audit_record

SIGNUP_SALT = "shien.accounts.signup"
SIGNUP_MAX_AGE = 24 * 60 * 60  # seconds a sign-up link stays valid


def signup(request: HttpRequest) -> HttpResponse:
    """Sign-up, step 1: a mail to the address, and the same answer whether or not it is registered.

    A new address gets a link (signed, valid 24 hours) to choose a password and finish; a registered
    one gets a note that someone tried to register with it, with links to log in or reset the
    password. So nobody learns from this page which addresses have accounts, and nobody registers an
    address they cannot read (which would show them invitations sent to it). Neither mail repeats what
    the requester typed (the name), so nobody can use them to send their own text to a stranger, and
    `mail_throttle` limits them per address (beyond it: the same page, no mail) and per client (429).
    """
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email, name = form.cleaned_data["email"], form.cleaned_data["name"]
        decision = mail_throttle.admit(
            kind=mail_throttle.Kind.SIGNUP, address=email, client=client_ip(request)
        )
        if decision.refused:
            return mail_throttle.refused_response(request, decision)
        site = settings.SITE_URL.rstrip("/")
        if User.objects.filter(email=email).exists():
            subject = "【shien】このメールアドレスで利用登録しようとした人がいます"
            body = (
                "このメールアドレスは shien にすでに登録されていますが、利用登録の申込みがありました。\n"
                "ご自身の申込みであれば、次のページからログインしてください。パスワードを忘れた場合は再設定できます。\n"
                f"{site}{reverse('login')}\n{site}{reverse('password_reset')}\n\n"
                "心当たりがない場合は、このメールを無視してください（登録内容は変わりません）。"
            )
        else:
            token = signing.dumps({"e": email, "n": name}, salt=SIGNUP_SALT, compress=True)
            subject = "【shien】利用登録の確認"
            body = (
                "shien への利用登録の申込みを受け付けました。次のリンクを開いてパスワードを決めると、"
                "登録が完了します（24時間有効）。\n"
                f"{site}{reverse('signup-confirm', args=[token])}\n\n"
                "心当たりがない場合は、このメールを無視してください（登録されません）。"
            )
        if decision.send:  # beyond the address's limit: the same page, and no mail
            email_address(to=email, subject=subject, body=body)
        return render(request, "accounts/signup_sent.html", {"email": email, **mail_throttle.sent_context()})
    return render(request, "accounts/signup.html", {"form": form}, status=_form_status(request))


@sensitive_post_parameters("password", "password_again")
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Sign-up, step 2 (the link in the mail): choose a password; the account is created and logged in."""
    try:
        data = signing.loads(token, salt=SIGNUP_SALT, max_age=SIGNUP_MAX_AGE)
        email, name = str(data["e"]), str(data["n"])
    except (signing.BadSignature, KeyError, TypeError):
        message = (
            "このリンクは有効期限（24時間）が切れているか、正しくありません。もう一度利用登録してください"
        )
        return render(request, "accounts/signup_confirm.html", {"invalid": message}, status=400)
    if User.objects.filter(email=email).exists():  # used already (the reader of the mailbox is here)
        messages.info(request, "このメールアドレスは登録が済んでいます。ログインしてください")
        return redirect("login")
    form = SignupPasswordForm(request.POST or None, email=email, name=name)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, form.cleaned_data["password"], name=name)
                audit_record(actor=user, action="user.signup", obj=user)
        except IntegrityError:  # the same link twice at once (a double click): the first one registered
            messages.info(request, "このメールアドレスは登録が済んでいます。ログインしてください")
            return redirect("login")
        login(request, user, backend="shien.accounts.backends.EmailBackend")
        messages.success(request, "利用登録が完了しました")
        return redirect(home(user)[0])
    context = {"form": form, "email": email, "name": name}
    return render(request, "accounts/signup_confirm.html", context, status=_form_status(request))


@login_required
def organization_new(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    # one key per rendered form: a double click or a retry registers the business once
    key = (
        request.POST.get("idempotency_key", "")[:100]
        if request.method == "POST"
        else secrets.token_urlsafe(16)
    )
    if request.method == "POST" and form.is_valid():
        user = request_user(request)
        try:
            organization_create(actor=user, idempotency_key=key, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(FIELD_OF.get(exc.code), exc.message)
        else:
            messages.success(request, "事業者を登録しました")
            return redirect("mypage")
    context = {"form": form, "idempotency_key": key}
    return render(request, "accounts/organization_form.html", context, status=_form_status(request))


def _form_status(request: HttpRequest) -> int:
    """A form shown again after a POST was refused answers 400 (as the app's other refused forms do)."""
    return 400 if request.method == "POST" else 200
