"""A business owner's whole path in the browser's language: sign up, register, apply, attach, submit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.test import Client

from shien.applications import services
from shien.applications.files import minimal_pdf
from shien.applications.models import Application, State
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
PDF = minimal_pdf("事業計画書")


@pytest.fixture(autouse=True)
def open_round(settings: Any, tmp_path: Any, clock: Clock) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    moment = datetime(2024, 3, 20, 10, 0, tzinfo=JST)
    clock.set(moment)


def test_owner_signs_up_registers_applies_attaches_and_submits(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    client.raise_request_exception = True
    with django_capture_on_commit_callbacks(execute=True):  # sign-up is confirmed through the mail
        client.post("/accounts/signup/", {"name": "広島 太郎", "email": "Taro@example.jp"})
    confirm = re.search(r"/accounts/signup/confirm/\S+/", mail.outbox.pop().body).group(0)
    password = {"password": "sumire-no-hana-2024", "password_again": "sumire-no-hana-2024"}
    response = client.post(confirm, password)
    assert response.status_code == 302 and response.url == "/mypage/"
    response = client.post("/organizations/new/", {"name": "広島精機株式会社", "prefecture": "広島県", "industry": "製造業",
                                                   "employees": "30", "capital_yen": "10000000",
                                                   "corporate_number": "5835678256246"})  # fmt: skip
    assert response.status_code == 302
    org_id = client.get("/mypage/").context["organizations"][0].pk
    response = client.post("/applications/new/", {"organization": org_id, "frame": "monozukuri/shoryokuka"})
    app = Application.objects.get()
    assert response.url == f"/applications/{app.pk}/"
    page = client.get(response.url).content.decode()
    assert "機械装置・システム構築費" in page and "入力は自動で保存されます" in page
    saved = client.post(
        f"/applications/{app.pk}/autosave/",
        {
            "version": "1",
            "purposes": "labor_saving",
            "e_machinery": "6,000万",
            "planned_wage": "1050",
            "va_cagr": "3",
            "pay_cagr": "1.5",
        },  # fmt: skip
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "25,000,000円" in saved.content.decode()
    stale = client.post(
        f"/applications/{app.pk}/autosave/",
        {"version": "1", "e_machinery": "1"},
        headers={"HX-Request": "true"},
    )
    assert stale.status_code == 409 and "別の画面で更新" in stale.content.decode()
    client.post(f"/applications/{app.pk}/attachments/", {"file": _upload("事業計画書.pdf", PDF)})
    bad = client.post(
        f"/applications/{app.pk}/attachments/", {"file": _upload("plan.pdf", b"not really a pdf")}
    )
    assert bad.status_code == 422 and "添付できるのは" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/applications/{app.pk}/submit/")
        client.post(f"/applications/{app.pk}/submit/")  # a double click
    app.refresh_from_db()
    assert app.state == State.SUBMITTED and app.receipt_number == "MONOZUKURI-18-000001"
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert "受付票" in page and "MONOZUKURI-18-000001" in page and app.attachments.get().sha256 in page
    assert len(mail.outbox) == 1 and "MONOZUKURI-18-000001" in mail.outbox[0].body
    receipt_mail = mail.outbox[0].body  # the receipt: number, time in 和暦(西暦), each attachment's hash
    assert "受付日時: 令和6年3月20日(水) 10:00:00（2024-03-20）" in receipt_mail
    assert (
        f"添付: 事業計画書.pdf（{len(PDF):,}バイト、SHA-256 {app.attachments.get().sha256}）" in receipt_mail
    )
    note = app.organization.memberships.get().user.notifications.get(kind="application.submit")
    assert note.body == receipt_mail.split("\n\n")[0] and note.emailed_at is not None


def test_strangers_cannot_see_or_change_an_application(client: Client) -> None:
    from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user

    owner = user("o@example.jp")
    org = organization(owner)
    app = services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=MONOZUKURI_PLAN
    )
    client.force_login(user("x@example.jp"))
    assert client.get(f"/applications/{app.pk}/").status_code == 404
    assert client.post(f"/applications/{app.pk}/submit/").status_code == 404
    anonymous = Client()
    assert anonymous.get(f"/applications/{app.pk}/").status_code == 302  # to the login page


def test_login_page_is_japanese_and_csrf_protected(client: Client) -> None:
    assert "ログイン" in client.get("/accounts/login/").content.decode()
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/login/", {"username": "a@example.jp", "password": "x"}).status_code == 403


def _upload(name: str, content: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="application/pdf")
