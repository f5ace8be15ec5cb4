"""The inbox: the user's own messages, newest first; mark read (htmx or not), open, mark all; the badge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from shien.accounts.models import User
from shien.core.models import AuditLog, Notification
from shien.core.notifications import notify
from shien.portal.templatetags.inbox import badge

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox() -> dict[str, Any]:
    me = User.objects.create_user("me@example.jp", "correct horse battery")
    other = User.objects.create_user("other@example.jp", "correct horse battery")
    old = notify(
        user=me, kind="t", title="古いお知らせ", body="一行目\n二行目", url="/mypage/", key="a", email=False
    )
    new = notify(user=me, kind="t", title="新しいお知らせ", url="https://evil.example/", key="b", email=False)
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))  # type: ignore[union-attr]
    theirs = notify(user=other, kind="t", title="他人宛て", key="c", email=False)
    client = Client()
    client.force_login(me)
    return {"me": me, "client": client, "old": old, "new": new, "theirs": theirs}


def test_lists_only_my_messages_newest_first_unread_bold_with_a_badge(inbox: dict[str, Any]) -> None:
    page = inbox["client"].get("/inbox/").content.decode()
    assert page.index("新しいお知らせ") < page.index("古いお知らせ") and "他人宛て" not in page
    opener = f'<form method="post" action="/inbox/{inbox["new"].pk}/" class="note-open">'
    assert (
        opener in page
        and '<strong><button type="submit" class="link">新しいお知らせ</button></strong>' in page
    )
    assert f'href="/inbox/{inbox["new"].pk}/' not in page  # no link a prefetch or a link scanner could follow
    assert "一行目<br>二行目" in page and "未読 2件" in page
    assert '<span class="badge">2<span class="visually-hidden">件の未読</span>' in page  # the header
    assert Client().get("/inbox/").status_code == 302  # to the login page


def test_another_users_message_is_not_found(inbox: dict[str, Any]) -> None:
    client, theirs = inbox["client"], inbox["theirs"]
    assert client.get(f"/inbox/{theirs.pk}/").status_code == 404
    assert client.post(f"/inbox/{theirs.pk}/read/").status_code == 404
    assert client.get("/inbox/999999/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_one_read_with_and_without_htmx(inbox: dict[str, Any]) -> None:
    client, old, new = inbox["client"], inbox["old"], inbox["new"]
    response = client.post(f"/inbox/{old.pk}/read/")
    assert response.status_code == 302 and response.url == "/inbox/"
    old.refresh_from_db()
    assert old.read_at is not None
    partial = client.post(f"/inbox/{new.pk}/read/", headers={"HX-Request": "true"}).content.decode()
    assert partial.startswith(f'<li id="note-{new.pk}" class="read">') and "<strong>" not in partial
    assert '<span id="unread-badge" hx-swap-oob="true"></span>' in partial  # nothing unread: badge empties
    assert "<html" not in partial
    first_read = Notification.objects.get(pk=old.pk).read_at
    client.post(f"/inbox/{old.pk}/read/")  # again: nothing changes, nothing more recorded
    assert Notification.objects.get(pk=old.pk).read_at == first_read
    assert AuditLog.objects.filter(action="notification.read").count() == 2


def test_opening_marks_read_and_follows_only_local_links(inbox: dict[str, Any]) -> None:
    client, old, new = inbox["client"], inbox["old"], inbox["new"]
    response = client.post(f"/inbox/{old.pk}/")
    assert response.status_code == 302 and response.url == "/mypage/"
    response = client.post(f"/inbox/{new.pk}/")
    assert response.status_code == 302 and response.url == "/inbox/"  # an outside link is not followed
    assert not Notification.objects.filter(user=inbox["me"], read_at=None).exists()


def test_a_get_of_the_open_address_goes_there_without_marking_read(inbox: dict[str, Any]) -> None:
    client, old, new = inbox["client"], inbox["old"], inbox["new"]
    response = client.get(f"/inbox/{old.pk}/")  # a prefetch, a link scanner, an old bookmark
    assert response.status_code == 302 and response.url == "/mypage/"
    assert client.get(f"/inbox/{new.pk}/").url == "/inbox/"
    assert Notification.objects.filter(user=inbox["me"], read_at=None).count() == 2
    assert not AuditLog.objects.filter(action="notification.read").exists()


def test_mark_all_read(inbox: dict[str, Any]) -> None:
    client = inbox["client"]
    assert client.post("/inbox/read-all/").status_code == 302
    assert not Notification.objects.filter(user=inbox["me"], read_at=None).exists()
    assert Notification.objects.get(pk=inbox["theirs"].pk).read_at is None
    assert AuditLog.objects.get(action="notification.read_all").data == {"count": 2}
    page = client.get("/inbox/").content.decode()
    assert "未読 0件" in page and "すべて既読にする" not in page and 'class="badge">' not in page
    assert client.get("/inbox/read-all/").status_code == 405  # a change is a POST


def test_badge_markup() -> None:
    assert badge(0) == '<span id="unread-badge"></span>'
    assert badge(3, oob=True).startswith('<span id="unread-badge" hx-swap-oob="true"> <span class="badge">3')


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_mark_read_in_chromium_without_reloading(live_server: Any, page: Any) -> None:
    me = User.objects.create_user("me@example.jp", "correct horse battery")
    first = notify(user=me, kind="t", title="実績報告の期限まであと7日です", key="a", email=False)
    second = notify(user=me, kind="t", title="補助金の額が確定しました", url="/mypage/", key="b", email=False)
    page.goto(live_server.url + "/inbox/")
    page.get_by_label("メールアドレス").fill(me.email)
    page.get_by_label("パスワード").fill("correct horse battery")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("heading", name="お知らせ", exact=True).wait_for()
    assert page.locator("#unread-badge").inner_text().strip().startswith("2")
    page.evaluate("window.stillHere = true")
    page.locator(f"#note-{first.pk}").get_by_role("button", name="既読にする").click()
    page.locator(f"#note-{first.pk}.read").wait_for()  # htmx swapped the item
    assert (
        page.locator("#unread-badge").inner_text().strip().startswith("1")
    )  # and the header badge, out of band
    assert page.evaluate("window.stillHere === true")  # no reload
    assert Notification.objects.get(pk=first.pk).read_at is not None
    # the title opens the message's page and marks it read (a POST: a prefetch of a link could not)
    page.get_by_role("button", name="補助金の額が確定しました", exact=True).click()
    page.get_by_role("heading", name="マイページ", exact=True).wait_for()
    assert page.url == live_server.url + "/mypage/"
    assert Notification.objects.get(pk=second.pk).read_at is not None
