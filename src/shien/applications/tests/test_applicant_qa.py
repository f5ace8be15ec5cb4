"""Applicant QA findings (test client): autosave never says 「保存しました」 for a value it dropped or
misread (業務プロセス数, 成長率 as people type them); attachments can be deleted from a draft (audited, the
file removed once committed), downloaded by the applicant with the SHA-256 re-checked, are refused when
only a signature stands for the file, and a second upload of the same content says which file it is;
every application page is `never_cache`, so the back button never shows a stale 「取り下げる」."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from django.conf import settings as django_settings
from django.test import Client

from shien.accounts.models import Role
from shien.applications import services
from shien.applications.models import Application, Attachment, State
from shien.applications.tests.factories import organization, user
from shien.applications.tests.test_applicant_builders import PDF, at_state, freeze, people, upload
from shien.core.models import AuditLog
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db
IT_OPEN = datetime(2024, 4, 1, 10, tzinfo=JST)  # IT導入 通常枠 2次 is open


@pytest.fixture(autouse=True)
def frozen(clock: Clock, settings: Any, tmp_path: Any) -> None:
    freeze(clock, settings, tmp_path)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# a 1×1 RGB PNG built by hand, and a small JPEG written by Pillow (attachments are read with Pillow)
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _chunk(b"IEND", b"")
)


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()


def it_draft(clock: Clock) -> tuple[Any, Application]:
    clock.set(IT_OPEN)
    owner = user("it@example.jp")
    app = services.application_create(
        actor=owner, organization=organization(owner), program="it_donyu", frame="tsujo"
    )
    return owner, app


def autosave(client: Client, app: Application, data: dict[str, Any], *, htmx: bool = True) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/applications/{app.pk}/autosave/", {"version": app.version, **data}, headers=headers)


# -- 2. autosave: values as people type them, or a message at the field --------------------------------------


def test_processes_and_growth_rates_are_read_as_typed(client: Client, clock: Clock) -> None:
    owner, app = it_draft(clock)
    client.force_login(owner)
    saved = autosave(client, app, {"purposes": "it_tools", "e_software": "100万", "processes": "５個",
                                   "va_cagr": "３．０", "pay_cagr": "1.5%"})  # fmt: skip
    assert saved.status_code == 200 and "保存しました" in saved.content.decode()
    app.refresh_from_db()
    assert app.plan["expenses"] == [{"category": "software", "amount_yen": 1_000_000, "processes": 5}]
    commitments = app.plan["commitments"]
    assert (commitments["value_added_cagr_pct"], commitments["payroll_cagr_pct"]) == ("3.0", "1.5")
    assert app.estimate_yen is not None and app.estimate_yen > 0
    assert "試算できません" not in saved.content.decode()


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("processes", "1234567", "業務プロセス数は1〜50の整数で入力してください"),
        ("processes", "51", "業務プロセス数は1〜50の整数で入力してください"),
        ("processes", "五", "業務プロセス数は1〜50の整数で入力してください"),
        ("va_cagr", "三パーセント", "数値で入力してください"),
        ("va_cagr", "3.125", "小数点以下は2桁まで"),
        ("pay_cagr", "2000%", "-100〜1000%の範囲"),
        ("pay_cagr", "1.2.3", "数値で入力してください"),
    ],
)
def test_impossible_values_are_refused_at_their_field_and_nothing_is_saved(
    client: Client, clock: Clock, field: str, typed: str, message: str
) -> None:
    owner, app = it_draft(clock)
    client.force_login(owner)
    refused = autosave(client, app, {"e_software": "100万", "processes": "5", "va_cagr": "3", field: typed})
    body = refused.content.decode()
    assert refused.status_code == 422 and "保存しました" not in body
    assert f'<span data-field="{field}">' in body and message in body  # draft-backup.js puts it at the field
    assert Application.objects.get(pk=app.pk).version == app.version  # the form is saved whole or not at all


def test_processes_without_a_software_amount_are_not_dropped_silently(client: Client, clock: Clock) -> None:
    owner, app = it_draft(clock)
    client.force_login(owner)
    refused = autosave(client, app, {"processes": "5", "functions": "accounting"})
    body = refused.content.decode()
    assert refused.status_code == 422 and "保存しました" not in body
    assert '<span data-field="e_software">' in body and "業務プロセス数・インボイス対応の機能は" in body
    assert autosave(client, app, {"e_software": "50万", "processes": "5"}).status_code == 200
    assert Application.objects.get(pk=app.pk).plan["expenses"][0]["processes"] == 5


def test_without_javascript_a_refused_value_comes_back_at_its_field_with_everything_typed(
    client: Client, clock: Clock
) -> None:
    owner, app = it_draft(clock)
    client.force_login(owner)
    refused = autosave(client, app, {"e_software": "100万", "processes": "5", "va_cagr": "1.5%",
                                     "pay_cagr": "abc"}, htmx=False)  # fmt: skip
    body = refused.content.decode()
    assert refused.status_code == 422 and "保存できませんでした" in body
    assert 'id="pay_cagr" name="pay_cagr" inputmode="decimal" value="abc" aria-invalid="true"' in body
    assert 'id="err-pay_cagr">数値で入力してください' in body
    assert 'value="100万"' in body and 'value="1.5%"' in body  # nothing typed is lost


def test_a_saved_draft_the_rules_cannot_read_says_why_there_is_no_estimate(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    Application.objects.filter(pk=app.pk).update(
        plan={
            **app.plan,
            "expenses": [{"category": "machinery", "amount_yen": 60_000_000, "description": "x" * 300}],
        }
    )  # e.g. a 診断 prefilled under an older schema: kept by the form, not readable by the rules
    client.force_login(owner)
    saved = autosave(
        client, Application.objects.get(pk=app.pk), {"purposes": "labor_saving", "e_machinery": "6000万"}
    )
    body = saved.content.decode()
    assert saved.status_code == 200 and "保存しました" in body and "試算できません" in body


# -- 4. attachments: delete, download, duplicates, contents --------------------------------------------------------


def test_signatures_alone_are_not_files() -> None:
    assert services.sniff(PNG) == "image/png"
    assert services.sniff(JPEG) == "image/jpeg"
    assert services.sniff(PDF) == "application/pdf"
    assert services.sniff(PDF + b"\r\n" + b"0" * 500) == "application/pdf"  # bytes after %%EOF: tolerated
    broken = {
        "the PNG signature alone": b"\x89PNG\r\n\x1a\n",
        "a PNG whose IHDR's CRC is wrong": PNG[:29] + b"\x00\x00\x00\x00" + PNG[33:],
        "a PNG of width 0": b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 1, 8, 2, 0, 0, 0)),
        "a PNG with an impossible bit depth": b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 3, 2, 0, 0, 0)),
        "a JPEG's SOI alone": b"\xff\xd8\xff\xe0",
        "a JPEG without its EOI (cut short)": JPEG[:-2],
        "a JPEG with SOI and EOI only": b"\xff\xd8\xff\xd9",
        "a PDF header alone": b"%PDF-1.7\n",
        "a PDF cut before its %%EOF": PDF[:-7] + b"0" * 2000,
    }
    for what, content in broken.items():
        assert services.sniff(content) is None, what


def test_a_broken_file_is_named_as_what_it_claims_to_be(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    refused = client.post(
        f"/applications/{app.pk}/attachments/", {"file": upload("写真.png", b"\x89PNG\r\n\x1a\n")}
    )
    body = refused.content.decode()
    assert refused.status_code == 422 and "このファイルはPNGとして読めません" in body  # bad_type
    assert not app.attachments.exists()
    assert (
        client.post(f"/applications/{app.pk}/attachments/", {"file": upload("写真.png", PNG)}).status_code
        == 302
    )
    assert (
        client.post(f"/applications/{app.pk}/attachments/", {"file": upload("現場.jpg", JPEG)}).status_code
        == 302
    )
    assert sorted(app.attachments.values_list("content_type", flat=True)) == ["image/jpeg", "image/png"]


def test_the_same_content_under_another_name_says_which_attachment_it_is(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    url = f"/applications/{app.pk}/attachments/"
    first = client.post(url, {"file": upload("見積書.pdf")}, follow=True)
    assert "「見積書.pdf」を添付しました" in first.content.decode()
    again = client.post(url, {"file": upload("見積書（最終）.pdf")}, follow=True)
    assert "同じ内容のファイルがすでに添付されています（見積書.pdf）" in again.content.decode()
    assert list(app.attachments.values_list("name", flat=True)) == ["見積書.pdf"]


def test_the_applicant_deletes_a_wrong_attachment_from_a_draft(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    wrong = services.attachment_add(
        actor=owner, application=app, name="別の申請の見積書.pdf", content=PDF + b"x"
    )
    kept = services.attachment_add(actor=owner, application=app, name="見積書.pdf", content=PDF + b"y")
    stored = Path(django_settings.MEDIA_ROOT, wrong.file.name)
    assert stored.exists()
    client.force_login(owner)
    url = f"/applications/{app.pk}/attachments/{wrong.pk}/delete/"
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert f'action="{url}"' in page and 'aria-label="別の申請の見積書.pdf を削除"' in page

    stranger = Client()
    stranger.force_login(user("stranger@example.jp"))
    assert stranger.post(url).status_code == 404
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url)
        assert stored.exists()  # the file goes only once the deletion has committed
    assert response.status_code == 302 and response.url == f"/applications/{app.pk}/#att"
    for callback in callbacks:
        callback()
    assert not stored.exists()
    assert list(app.attachments.all()) == [kept]
    audit = AuditLog.objects.get(action="attachment.delete")
    assert audit.actor == owner and audit.object_id == str(wrong.pk)
    assert audit.data == {"application": app.pk, "name": "別の申請の見積書.pdf", "sha256": wrong.sha256,
                          "size": wrong.size}  # fmt: skip
    page = client.get(response.url).content.decode()
    assert "「別の申請の見積書.pdf」を削除しました" in page and "別の申請の見積書.pdf（" not in page
    twice = client.post(url, follow=True)  # a double click
    assert "この添付ファイルはすでに削除されています" in twice.content.decode()


def test_attachments_of_a_submitted_application_cannot_be_deleted(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    attachment = services.attachment_add(actor=owner, application=app, name="計画書.pdf", content=PDF)
    app = services.application_submit(actor=owner, application=app)
    client.force_login(owner)
    page = client.get(f"/applications/{app.pk}/").content.decode()
    assert "/delete/" not in page and f"attachments/{attachment.pk}/" in page  # still downloadable
    refused = client.post(f"/applications/{app.pk}/attachments/{attachment.pk}/delete/")
    assert (
        refused.status_code == 409
        and "「申請済み」の申請の添付ファイルは削除できません" in refused.content.decode()
    )
    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert not AuditLog.objects.filter(action="attachment.delete").exists()


def test_the_applicant_downloads_their_own_attachment_checked_against_its_hash(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    attachment = services.attachment_add(actor=owner, application=app, name="見積書.pdf", content=PDF)
    url = f"/applications/{app.pk}/attachments/{attachment.pk}/"
    client.force_login(owner)
    assert (
        f'href="/applications/{app.pk}/attachments/{attachment.pk}/">見積書.pdf</a>'
        in client.get(f"/applications/{app.pk}/").content.decode()
    )
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert (
        "attachment" in response["Content-Disposition"]
        and "%E8%A6%8B%E7%A9%8D" in response["Content-Disposition"]
    )
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == PDF
    assert client.get(f"/applications/{app.pk}/attachments/{attachment.pk + 99}/").status_code == 404
    assert client.get(f"/applications/{app.pk}/attachments/x/").status_code == 404

    for other in (user("stranger@example.jp"), office):  # strangers; the office has its own page
        visitor = Client()
        visitor.force_login(other)
        assert visitor.get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page

    Path(django_settings.MEDIA_ROOT, attachment.file.name).write_bytes(PDF + b"forged")
    tampered = client.get(url)
    assert tampered.status_code == 409 and "変更された可能性" in tampered.content.decode()


# -- 5. never_cache: back reloads the application as it is --------------------------------------------------------


def test_application_pages_are_never_cached(client: Client) -> None:
    owner, office = people()
    app = at_state(State.SUBMITTED, owner, office)
    granted = at_state(State.GRANTED, owner, office)
    client.force_login(owner)
    responses = {
        "detail": client.get(f"/applications/{app.pk}/"),
        "withdraw": client.get(f"/applications/{app.pk}/withdraw/"),
        "withdraw confirm": client.post(
            f"/applications/{app.pk}/withdraw/", {"step": "confirm", "reason": "見直し"}
        ),
        "report": client.get(f"/applications/{granted.pk}/report/"),
        "change": client.get(f"/applications/{granted.pk}/changes/new/"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert "no-store" in response["Cache-Control"], name
    done = client.post(f"/applications/{app.pk}/withdraw/", {"step": "withdraw", "reason": "見直し"})
    assert done.status_code == 302 and "no-store" in done["Cache-Control"]
    staff = Client()
    staff.force_login(user("bureau@example.jp", Role.BUREAU))
    assert "no-store" in staff.get(f"/applications/{app.pk}/").get("Cache-Control", "")
