"""Attachments are what their bytes are (Pillow, pypdf, zipfile), download under the detected type, and
oversized bodies are refused before they are read."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from shien.applications import files, services
from shien.applications.files import minimal_pdf
from shien.applications.models import Attachment, State
from shien.applications.tests.factories import user
from shien.applications.tests.test_applicant_builders import PDF, at_state, people, upload
from shien.core.models import AuditLog
from shien.rules.errors import DomainError

pytestmark = pytest.mark.django_db

POLYGLOT = minimal_pdf("見積書") + b"<html><body><script>alert(document.cookie)</script></body></html>"


def office_file(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(body: bytes = b"<w:document/>", **more: bytes) -> bytes:
    return office_file({"word/document.xml": body, **more})


def xlsx() -> bytes:
    from openpyxl import Workbook

    out = io.BytesIO()
    Workbook().save(out)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, idat: bytes | None = None, *extra: bytes) -> bytes:
    """A PNG (8-bit RGB) with every CRC right; its pixel data `idat` (by default no rows at all)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(b"") if idat is None else idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, **options: Any) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, format="JPEG", **options)
    return out.getvalue()


def resized(content: bytes, width: int, height: int) -> bytes:
    """The JPEG with other dimensions in its frame header (a header only: refused before decoding)."""
    frame = next(content.find(m) for m in (b"\xff\xc0", b"\xff\xc2") if content.find(m) > 0)
    return content[: frame + 5] + struct.pack(">HH", height, width) + content[frame + 9 :]


def refused(content: bytes) -> str:
    with pytest.raises(DomainError) as caught:
        files.detect(content)
    return caught.value.message


def test_a_pdf_that_is_also_a_page_downloads_as_a_pdf(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    response = client.post(f"/applications/{app.pk}/attachments/", {"file": upload("見積書.html", POLYGLOT)})
    assert response.status_code == 302
    attachment = app.attachments.get()
    assert (attachment.name, attachment.content_type) == ("見積書.pdf", "application/pdf")
    for who, url in ((owner, f"/applications/{app.pk}/attachments/{attachment.pk}/"),):
        client.force_login(who)
        download = client.get(url)
        assert download["Content-Type"] == "application/pdf"
        assert download["Content-Disposition"].startswith("attachment;")
        assert ".pdf" in download["Content-Disposition"] and ".html" not in download["Content-Disposition"]
        assert download["X-Content-Type-Options"] == "nosniff"
    # a row stored before (with the uploader's name) downloads under the detected type too
    type(attachment).objects.filter(pk=attachment.pk).update(name="見積書.html")
    assert ".html" not in client.get(url)["Content-Disposition"]


def test_names_follow_the_detected_type() -> None:
    assert files.stored_name("写真.PNG", files.JPEG) == "写真.jpg"
    assert files.stored_name("../../etc/passwd", files.PDF) == "etcpasswd.pdf"
    assert files.stored_name("報告書.final.v2", files.DOCX) == "報告書.final.docx"
    assert files.stored_name("計画書", files.XLSX) == "計画書.xlsx"
    assert files.stored_name("a\x00b\n.pdf", files.PDF) == "ab.pdf"
    assert len(files.stored_name("長" * 500 + ".pdf", files.PDF)) == 200


def test_office_files_are_read_and_bombs_refused_without_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    assert files.detect(docx()) == files.DOCX
    assert files.detect(xlsx()) == files.XLSX
    bomb = docx(b"0" * (60 * 1024 * 1024))  # about 60 KB that inflates to 60 MB
    assert len(bomb) < 200 * 1024
    opened: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(
        zipfile.ZipFile, "open", lambda self, m, *a, **k: opened.append(str(m)) or real_open(self, m, *a, **k)
    )
    assert "展開すると大きすぎます" in refused(bomb)
    assert opened == []  # refused from the zip's directory, nothing inflated
    ratio = docx(b"<w:document/>", **{"word/media/big.xml": b"1" * (5 * 1024 * 1024)})  # 5 MB at ~1000:1
    opened.clear()  # (writing it opened its members)
    assert "展開すると大きすぎます" in refused(ratio) and opened == []
    many = office_file(
        {"word/document.xml": b"<w:document/>"} | {f"word/p{n}.xml": b"x" for n in range(2001)}
    )
    assert "展開すると大きすぎます" in refused(many)


def test_an_office_file_whose_directory_lies_is_refused() -> None:
    real = b"<w:document>" + b"text " * 5000 + b"</w:document>"
    content = bytearray(docx(real))
    name = b"word/document.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, directory
        at = content.find(signature + b"", content.find(signature))
        while content[at + (30 if signature == b"PK\x03\x04" else 46) :].find(name) != 0:
            at = content.find(signature, at + 4)
        content[at + size_at : at + size_at + 4] = struct.pack("<I", 100)  # declares 100 bytes
    assert "Wordとして読めません" in refused(bytes(content))


def test_damaged_office_files_and_images_are_refused_not_a_server_error() -> None:
    """Found by mutating valid files: each was a 500 (zlib.error, NotImplementedError, IndexError)."""
    content = bytearray(docx(b"<w:document>" + b"abc" * 400 + b"</w:document>"))
    data = content.index(b"word/document.xml") + len(b"word/document.xml")  # its deflate stream
    content[data : data + 6] = b"\xff" * 6
    assert "Wordとして読めません" in refused(bytes(content))  # zlib.error: invalid block type
    content = bytearray(docx())
    directory = content.index(b"PK\x01\x02")
    content[directory + 6 : directory + 8] = struct.pack("<H", 109)  # needs zip version 10.9 to extract
    assert "として読めません" in refused(bytes(content))  # NotImplementedError
    header = png_header(10, 10)
    no_pixels = header[: header.index(b"IDAT") - 4] + header[header.index(b"IEND") - 4 :]  # no IDAT at all
    assert "PNGとして読めません" in refused(no_pixels)  # IndexError in Pillow's verify


def test_macro_enabled_and_other_zips_are_refused() -> None:
    assert "マクロ" in refused(docx(**{"word/vbaProject.bin": b"\x00" * 100}))
    assert "添付できるのは" in refused(office_file({"mimetype": b"application/epub+zip"}))
    assert "Word・Excelとして読めません" in refused(b"PK\x03\x04" + b"\x00" * 100)


def test_images_are_read_with_pillow_and_huge_ones_refused_before_decoding() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (0, 120, 200)).save(out, format="PNG")
    assert files.detect(out.getvalue()) == files.PNG
    # a PNG is decoded whole: up to 4,000万画素 (160 MB at 4 bytes a pixel), refused before decoding above
    assert "画素数が多すぎます（8000×5001）。PNG は4,000万画素まで" in refused(png_header(8000, 5001))
    assert "として読めません" in refused(png_header(8000, 5000))  # at the limit: decoded (no rows: refused)
    assert "画素数が多すぎます（12000×9000）。PNG は4,000万画素まで" in refused(png_header(12000, 9000))
    assert "画素数が多すぎます" in refused(png_header(50000, 50000))  # beyond Pillow's own bomb limit
    photo = jpeg(64, 64)
    assert files.detect(photo) == files.JPEG
    assert "JPEGとして読めません" in refused(photo[: len(photo) // 2])  # cut short
    # one scan: decoded at 1/8 scale, up to 1億画素 (not 「10,000万」)
    assert "画素数が多すぎます（10001×10000）。JPEG は1億画素まで" in refused(resized(photo, 10001, 10000))
    # at the limit it is decoded: the data of a 64×64 image, with no end marker, runs out
    assert "JPEGとして読めません" in refused(resized(photo, 10000, 10000)[:-2])


def test_image_pixel_data_is_decoded_not_only_its_checksums() -> None:
    """A PNG whose chunks all have the right CRC but whose pixel data is not a zlib stream was stored:
    Pillow's verify() reads only the chunks."""
    assert "PNGとして読めません" in refused(png_header(10, 10, b"this is not zlib at all" * 3))
    cut = zlib.compressobj()
    unfinished = cut.compress((b"\x00" + b"\x01\x02\x03" * 10) * 10) + cut.flush(zlib.Z_SYNC_FLUSH)[:-8]
    assert "PNGとして読めません" in refused(png_header(10, 10, unfinished))  # the stream stops short
    rows = zlib.compress((b"\x00" + b"\x01\x02\x03" * 10) * 10)
    assert files.detect(png_header(10, 10, rows)) == files.PNG
    broken = bytearray(rows)
    broken[len(broken) // 2] ^= 0xFF  # a damaged deflate stream (or its checksum) inside right CRCs
    assert "PNGとして読めません" in refused(png_header(10, 10, bytes(broken)))
    animated = png_chunk(b"acTL", struct.pack(">II", 2, 0))  # an APNG's second frame would not be decoded
    assert "動く PNG（APNG）は添付できません" in refused(png_header(10, 10, rows, animated))


def test_progressive_jpegs_are_bounded_in_memory_and_in_scans() -> None:
    """libjpeg keeps every coefficient of an image with several scans (8 bytes a pixel at most, even at
    1/8 scale), and each scan is a pass over the whole image."""
    progressive = jpeg(64, 48, progressive=True)
    assert files.detect(progressive) == files.JPEG and 1 < files.jpeg_scans(progressive) <= 20
    message = refused(resized(progressive, 5000, 4001))
    assert "画素数が多すぎます（5000×4001）。プログレッシブ形式の JPEG は2,000万画素まで" in message
    assert "として読めません" in refused(resized(progressive, 5000, 4000)[:-2])  # at the limit: decoded
    scan = progressive[progressive.rfind(b"\xff\xda") : -2]
    many = progressive[:-2] + scan * files.MAX_JPEG_SCANS + b"\xff\xd9"
    assert "走査（スキャン）が多すぎて読めません（64まで）" in refused(many)
    # a thumbnail in the EXIF data and an image appended after the end (an iPhone's gain map) are not
    # scans of the photo: a 1億画素 photo with them is still a one-scan JPEG
    photo = jpeg(64, 64)
    exif = b"Exif\x00\x00" + progressive * 2
    dressed = photo[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + photo[2:] + progressive
    assert files.jpeg_scans(dressed) == 1 and files.detect(dressed) == files.JPEG


def test_only_pdf_png_jpeg_docx_and_xlsx_are_accepted() -> None:
    from PIL import Image

    for kind in ("GIF", "WEBP", "BMP", "TIFF"):
        out = io.BytesIO()
        Image.new("RGB", (8, 8), (1, 2, 3)).save(out, format=kind)
        assert "添付できるのは PDF、PNG、JPEG" in refused(out.getvalue()), kind


def test_pdfs_are_read_with_pypdf_and_protected_ones_refused() -> None:
    from pypdf import PdfWriter

    assert files.detect(minimal_pdf("計画書")) == files.PDF
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret")
    protected = io.BytesIO()
    writer.write(protected)
    assert "パスワードで保護された PDF" in refused(protected.getvalue())
    assert "PDFとして読めません" in refused(b"%PDF-1.7\n" + b"x" * 1000 + b"\n%%EOF\n")  # no pages, no xref


def test_the_upload_form_shows_the_reason(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    response = client.post(
        f"/applications/{app.pk}/attachments/", {"file": upload("計画.docx", docx(b"0" * (60 * 1024 * 1024)))}
    )
    assert response.status_code == 422 and "展開すると大きすぎます" in response.content.decode()
    assert not app.attachments.exists()
    assert services.sniff(b"<html>") is None  # other apps check types through services.sniff


# -- bodies over the limit -------------------------------------------------------------------------------


class Unreadable(io.RawIOBase):
    def read(self, *args: Any) -> bytes:
        raise AssertionError("the body was read")

    readline = read


def wsgi(path: str, **environ: str) -> tuple[str, bytes]:
    from django.core.handlers.wsgi import WSGIHandler

    status: list[str] = []
    base = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
        "wsgi.input": Unreadable(), "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "multipart/form-data; boundary=x",
    }  # fmt: skip
    body = WSGIHandler()(base | environ, lambda s, headers: status.append(s))
    return status[0], b"".join(body)


def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    status, body = wsgi("/applications/1/attachments/", CONTENT_LENGTH=str(120 * 1024 * 1024))
    assert status.startswith("413") and "送信されたデータが大きすぎます（上限 12MB）" in body.decode()
    status, _ = wsgi("/applications/1/report/", CONTENT_LENGTH=str(40 * 1024 * 1024))  # one file per row
    assert not status.startswith("413")
    status, _ = wsgi("/applications/1/report/", CONTENT_LENGTH=str(60 * 1024 * 1024))
    assert status.startswith("413")
    status, body = wsgi("/applications/1/attachments/", HTTP_TRANSFER_ENCODING="chunked")
    assert status.startswith("411") and "Content-Length" in body.decode()
    status, body = wsgi(
        "/api/v1/estimate", CONTENT_LENGTH=str(120 * 1024 * 1024), CONTENT_TYPE="application/json"
    )
    # the API's documented 413: its ErrorDocument (code, Japanese message as written, errors)
    assert status.startswith("413")
    assert json.loads(body) == {
        "code": "too_large",
        "message": "送信されたデータが大きすぎます（上限 12MB）",
        "errors": [],
    }
    assert "送信されたデータ".encode() in body
    status, body = wsgi(  # jGrants' shape on its compatible API
        "/exp/v1/public/subsidies", CONTENT_LENGTH=str(120 * 1024 * 1024), CONTENT_TYPE="application/json"
    )
    assert status.startswith("413") and json.loads(body) == {
        "message": "送信されたデータが大きすぎます（上限 12MB）"
    }


def test_an_upload_within_the_limit_still_works(client: Client) -> None:
    owner, office = people()
    app = at_state(State.DRAFT, owner, office)
    client.force_login(owner)
    big = minimal_pdf("大きな書類") + b"%" + b"0" * (9 * 1024 * 1024)  # 9 MB
    assert (
        client.post(f"/applications/{app.pk}/attachments/", {"file": upload("大.pdf", big)}).status_code
        == 302
    )


# a 1×1 RGB PNG built by hand, and a small JPEG written by Pillow (attachments are read with Pillow)
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + png_chunk(b"IEND", b"")
)


def _jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()


@pytest.mark.usefixtures("frozen")
def test_signatures_alone_are_not_files() -> None:
    assert services.sniff(PNG) == "image/png"
    assert services.sniff(JPEG) == "image/jpeg"
    assert services.sniff(PDF) == "application/pdf"
    assert services.sniff(PDF + b"\r\n" + b"0" * 500) == "application/pdf"  # bytes after %%EOF: tolerated
    broken = {
        "the PNG signature alone": b"\x89PNG\r\n\x1a\n",
        "a PNG whose IHDR's CRC is wrong": PNG[:29] + b"\x00\x00\x00\x00" + PNG[33:],
        "a PNG of width 0": b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 1, 8, 2, 0, 0, 0)),
        "a PNG with an impossible bit depth": b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 3, 2, 0, 0, 0)),
        "a JPEG's SOI alone": b"\xff\xd8\xff\xe0",
        "a JPEG without its EOI (cut short)": JPEG[:-2],
        "a JPEG with SOI and EOI only": b"\xff\xd8\xff\xd9",
        "a PDF header alone": b"%PDF-1.7\n",
        "a PDF cut before its %%EOF": PDF[:-7] + b"0" * 2000,
    }
    for what, content in broken.items():
        assert services.sniff(content) is None, what


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
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


@pytest.mark.usefixtures("frozen")
def test_an_upload_is_read_no_further_than_the_size_limit(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2 GB upload was read into memory whole before its size was checked."""
    owner, office_user = people()
    draft = at_state(State.DRAFT, owner, office_user)
    granted = at_state(State.GRANTED, user("g@example.jp"), office_user)
    monkeypatch.setattr(services, "MAX_ATTACHMENT_BYTES", 64)
    seen: list[int] = []
    add = services.attachment_add

    def spy(**kwargs: Any) -> Any:
        seen.append(len(kwargs["content"]))
        return add(**kwargs)

    monkeypatch.setattr(services, "attachment_add", spy)
    client.force_login(owner)
    refused = client.post(f"/applications/{draft.pk}/attachments/", {"file": upload("big.pdf", PDF * 50)})
    assert refused.status_code == 413 and "MBまで" in refused.content.decode()  # too_large
    client.force_login(granted.organization.memberships.get().user)
    client.post(f"/applications/{granted.pk}/report/", {
        "rows": "1", "category-1": "machinery", "description-1": "機械", "amount-1": "100",
        "file-1": upload("big.pdf", PDF * 50)})  # fmt: skip
    assert seen == [65, 65]


def test_a_cut_short_image_is_refused_even_after_weasyprint_asked_pillow_to_pad_them() -> None:
    """WeasyPrint (the round summaries) sets Pillow's LOAD_TRUNCATED_IMAGES when imported; the upload
    check must not inherit that (it made the image tests depend on which tests ran before them)."""
    import weasyprint  # noqa: F401
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    test_image_pixel_data_is_decoded_not_only_its_checksums()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # left as the process had it
