"""パスワードの変更: the page the security settings link to, in Japanese, audited, this session kept."""

from __future__ import annotations

import pytest
from django.test import Client

from shien.accounts.models import User
from shien.applications.tests.factories import user
from shien.core.models import AuditLog, Notification

pytestmark = pytest.mark.django_db
OLD = "correct horse battery"  # the factories' password
NEW = "しずかな湖畔の森のかげから2024"
URL = "/accounts/password_change/"


def signed_in(email: str = "pw@example.jp") -> tuple[User, Client]:
    u = user(email)
    client = Client()
    client.force_login(u)
    return u, client


def test_the_security_page_links_to_the_password_change_page() -> None:
    _, client = signed_in()
    html = client.get("/accounts/security/").content.decode()
    assert f'href="{URL}"' in html and "パスワードを変更する" in html


def test_the_page_is_japanese_in_the_site_layout() -> None:
    _, client = signed_in()
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>パスワードの変更</h1>" in html and 'class="site-header"' in html  # base.html
    for label in (
        "現在のパスワード",
        "新しいパスワード（10文字以上）",
        "新しいパスワード（確認のためもう一度）",
    ):
        assert label in html
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_anonymous_visitors_are_sent_to_the_login() -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_changing_keeps_this_session_ends_the_others_and_is_audited() -> None:
    u, client = signed_in()
    elsewhere = Client()
    elsewhere.force_login(u)
    response = client.post(URL, {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_change/done/"
    done = client.get(response["Location"])
    assert done.status_code == 200 and "パスワードを変更しました" in done.content.decode()
    assert client.get("/mypage/").status_code == 200  # update_session_auth_hash: still logged in here
    assert elsewhere.get("/mypage/").status_code == 302  # the other browser must log in again
    u.refresh_from_db()
    assert u.check_password(NEW)
    audit = AuditLog.objects.get(action="auth.password_change", object_id=str(u.pk))
    assert audit.actor_id == u.pk and "パスワードを変更" in audit.reason
    note = Notification.objects.get(user=u, kind="security.password")
    assert note.title == "パスワードを変更しました" and note.key == f"audit:{audit.pk}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"old_password": "wrong password", "new_password1": NEW, "new_password2": NEW},
            "現在のパスワードが正しくありません",
        ),
        ({"old_password": OLD, "new_password1": NEW, "new_password2": NEW + "x"}, "一致しません"),
        ({"old_password": OLD, "new_password1": "short", "new_password2": "short"}, "短すぎます"),
        (
            {"old_password": "x" * 100_000, "new_password1": NEW, "new_password2": NEW},
            "パスワードは200文字以内で入力してください（いまは100,000文字",
        ),
    ],
)
def test_mistakes_are_explained_in_japanese_and_change_nothing(data: dict[str, str], message: str) -> None:
    u, client = signed_in()
    response = client.post(URL, data)
    html = response.content.decode()
    assert response.status_code == 400 and message in html and "error-summary" in html
    u.refresh_from_db()
    assert u.check_password(OLD)
    assert not AuditLog.objects.filter(action="auth.password_change").exists()


def test_wrong_current_passwords_count_like_failed_logins() -> None:
    """A stolen session cannot try passwords without limit: the account locks as a login would."""
    u, client = signed_in()
    for _ in range(5):
        client.post(URL, {"old_password": "wrong password", "new_password1": NEW, "new_password2": NEW})
    response = client.post(URL, {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code in (200, 429)  # refused even with the right one (locked, or throttled)
    u.refresh_from_db()
    assert u.check_password(OLD)


def test_an_account_without_a_password_is_pointed_to_the_reset() -> None:
    u, client = signed_in()
    u.set_unusable_password()
    u.save()
    client.force_login(u)
    html = client.get(URL).content.decode()
    assert "パスワードがありません" in html and 'href="/accounts/password_reset/"' in html
    assert client.post(URL, {"new_password1": NEW, "new_password2": NEW}).status_code == 409
