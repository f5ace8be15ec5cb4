"""Password reset (Django's views), with the limits of `mail_throttle` and the mail through the task queue.

Per address: beyond `MAIL_REQUEST_LIMIT_PER_ADDRESS` requests in the window the answer is the same
"mail sent" page and no mail goes out (the mails already sent hold working links). Per client: beyond
`MAIL_REQUEST_LIMIT_PER_CLIENT` requests (of any mail-sending form) a 429 page. The mail is a task
committed with the request (`core.notifications.email_address`), never sent in the request: a slow
mail server holds nothing up, and the answer takes as long whether or not the address has an account.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.template import loader

from shien.accounts import mail_throttle
from shien.accounts.throttle import client_ip
from shien.core.notifications import email_address


class PasswordResetForm(auth_forms.PasswordResetForm):
    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        email_address(to=to_email, subject=subject, body=body)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:  # type: ignore[override]
        decision = mail_throttle.admit(
            kind=mail_throttle.Kind.PASSWORD_RESET,
            address=form.cleaned_data["email"],
            client=client_ip(self.request),
        )
        if decision.refused:
            return mail_throttle.refused_response(self.request, decision)
        if decision.send:
            return super().form_valid(form)  # mails the account's owner, if there is one
        return HttpResponseRedirect(self.get_success_url())  # the same answer, no mail


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | mail_throttle.sent_context()
