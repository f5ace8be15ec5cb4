"""Attachments are what their bytes are (Pillow, pypdf, zipfile), download under the detected type, and
oversized bodies are refused before they are read."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Any

import pytest
from django.test import Client

from shien.applications import files, services
from shien.applications.files import minimal_pdf
from shien.applications.models import State
from shien.applications.tests.test_applicant_builders import at_state, people, upload
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
