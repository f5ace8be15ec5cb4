"""The development mailbox: in the demo (and with DEBUG) mail is kept, one readable line is printed per
message, and /dev/mail/ shows it decoded; anywhere else the page does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from shien.core import devmail

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings: Any, tmp_path: Path) -> Path:
    settings.EMAIL_BACKEND = devmail.BACKEND
    settings.SHIEN_DEMO = True
    settings.SHIEN_DEV_MAILBOX_DIR = tmp_path / "mail"
    return tmp_path / "mail"


def test_mail_is_kept_with_one_readable_line_and_listed_decoded(
    mailbox: Path, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    subject = "【shien】パスワードの再設定"
    mail.send_mail(subject, "次のリンクから再設定してください。\n\nhttp://127.0.0.1:8000/accounts/reset/x/", None,
                   ["demo@shien.example"])  # fmt: skip
    mail.send_mail("【shien】採択されました", "本文", None, ["jimukyoku@shien.example"])
    printed = capsys.readouterr().out
    assert printed.splitlines() == [
        f"メール: demo@shien.example {subject}",
        "メール: jimukyoku@shien.example 【shien】採択されました",
    ]  # not the raw MIME with its encoded subject
    assert len(list(mailbox.glob("*.eml"))) == 2 and not list(mailbox.glob(".*"))

    page = client.get("/dev/mail/").content.decode()
    assert page.index("採択されました") < page.index(subject)  # newest first
    assert "=?utf-8?" not in page and "jimukyoku@shien.example" in page
    first = devmail.messages()[-1]
    shown = client.get(f"/dev/mail/{first.name}").content.decode()
    assert subject in shown and "次のリンクから再設定してください。" in shown
    assert '<a href="http://127.0.0.1:8000/accounts/reset/x/"' in shown  # the link can be followed


@pytest.mark.parametrize("where", ["production", "another backend"])
def test_the_mailbox_exists_only_in_the_demo_or_debug(
    mailbox: Path, client: Client, settings: Any, where: str
) -> None:
    mail.send_mail("【shien】採択されました", "本文", None, ["demo@shien.example"])
    name = devmail.messages()[0].name
    if where == "production":
        settings.SHIEN_DEMO = False
        settings.DEBUG = False
    else:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert client.get("/dev/mail/").status_code == 404
    assert client.get(f"/dev/mail/{name}").status_code == 404


def test_only_messages_of_the_mailbox_can_be_opened(mailbox: Path, client: Client, tmp_path: Path) -> None:
    (tmp_path / "secret.eml").write_text("Subject: x\n\nsecret")
    assert client.get("/dev/mail/..%2Fsecret.eml").status_code == 404
    assert client.get("/dev/mail/1-2-3.eml").status_code == 404
    assert client.get("/dev/mail/").status_code == 200
