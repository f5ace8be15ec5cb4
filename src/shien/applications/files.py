"""Attachments: what a file really is (read with Pillow, pypdf and zipfile, not from its name or first
bytes), the name it is downloaded under, and reading a stored file back only as it was uploaded.

- PDF: pypdf parses the cross-reference table and the page tree (at least one page); a
  password-protected PDF is refused (the office could not open it).
- PNG and JPEG: Pillow reads the whole image (JPEG decoded at 1/8 scale, so a truncated file fails
  without the memory of a full decode); images over `MAX_IMAGE_PIXELS` are refused before decoding.
- Word (.docx) and Excel (.xlsx): a zip whose members declare more than `MAX_OFFICE_INFLATED` bytes,
  more than `MAX_OFFICE_MEMBERS` members or a member inflating over `MAX_OFFICE_RATIO` times is refused
  from its directory, without inflating anything; otherwise every member is inflated in chunks with
  a running total capped at the same limit (and its CRC checked), so a directory that lies stops there.
  Macro-enabled files (vbaProject.bin) are refused.

The download's name ends with the extension of the detected type and is sent as an attachment with
that type and `nosniff`: a PDF that is also an HTML page downloads as .pdf, never opens as a page.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
import zlib
from typing import Any

from django.http import FileResponse, Http404

from shien.applications.models import Attachment
from shien.rules.errors import DomainError
from shien.rules.text import man_yen

logger = logging.getLogger(__name__)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", DOCX: ".docx", XLSX: ".xlsx"}
LABELS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", DOCX: "Word", XLSX: "Excel"}

MAX_IMAGE_PIXELS = 100_000_000  # 1億画素: a 108-megapixel phone photo is about this; a bomb is far more
MAX_OFFICE_INFLATED = 50 * 1024 * 1024  # the inflated size of all of a .docx / .xlsx's members
MAX_OFFICE_MEMBERS = 2000
MAX_OFFICE_RATIO = 100  # inflated / compressed, for members over RATIO_FLOOR bytes
RATIO_FLOOR = 1024 * 1024
OOXML_PARTS = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX}

UNREADABLE = (
    "このファイルは{label}として読めません。壊れているか、途中までしか保存されていない可能性があります。"
    "元のファイルを開けることを確かめて、もう一度添付してください"
)
NOT_ALLOWED = "添付できるのは PDF、PNG、JPEG、Word（.docx）、Excel（.xlsx）のファイルです"


def claimed(content: bytes) -> str:
    """The kind of file the first bytes claim ('PDF', 'PNG', 'JPEG', 'Word/Excel'), '' if none."""
    if content.startswith(b"%PDF-"):
        return "PDF"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if content.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if content.startswith(b"PK\x03\x04"):
        return "Word・Excel"
    return ""


def detect(content: bytes) -> str:
    """The content type the bytes really are; DomainError `bad_type` (in Japanese) if they are not a
    readable PDF, PNG, JPEG, .docx or .xlsx."""
    label = claimed(content)
    if label == "PDF":
        return _pdf(content)
    if label in ("PNG", "JPEG"):
        return _image(content, label)
    if label:
        return _office(content)
    raise DomainError("bad_type", NOT_ALLOWED)


def sniff(content: bytes) -> str | None:
    """`detect`, or None instead of the error."""
    try:
        return detect(content)
    except DomainError:
        return None


def _unreadable(label: str) -> DomainError:
    return DomainError("bad_type", UNREADABLE.format(label=label))


def _pdf(content: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted:
            raise DomainError(
                "bad_type",
                "パスワードで保護された PDF は添付できません。保護を解除して保存し直してから添付してください",
            )
        pages = len(reader.pages)
    except DomainError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        raise _unreadable("PDF") from None
    if pages < 1:
        raise _unreadable("PDF")
    return PDF


def _image(content: bytes, label: str) -> str:
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow warns from 89 MP on: the limit here is MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=["PNG", "JPEG"])
        with image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise _too_many_pixels(f"（{width}×{height}）")
            kind = PNG if image.format == "PNG" else JPEG
            if kind == JPEG:
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8 scale
                image.load()  # reads all the entropy-coded data: a truncated file fails here
            else:
                image.verify()  # every chunk's CRC, through IEND
    except DomainError:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's limit: refused at open, size unread
        raise _too_many_pixels("") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, IndexError, EOFError):
        raise _unreadable(label) from None  # IndexError: Pillow's verify of a PNG without IDAT
    return kind


def _too_many_pixels(size: str) -> DomainError:
    return DomainError(
        "bad_type",
        f"画像の画素数が多すぎます{size}。{man_yen(MAX_IMAGE_PIXELS).removesuffix('円')}画素以下に縮小してから添付してください",
    )


def _office(content: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError):
        raise _unreadable("Word・Excel") from None
    names = {m.filename for m in members}
    kind = next((k for part, k in OOXML_PARTS.items() if part in names), None)
    if "[Content_Types].xml" not in names or kind is None:
        raise DomainError("bad_type", NOT_ALLOWED)
    if any(name.endswith("vbaProject.bin") for name in names):
        raise DomainError(
            "bad_type", "マクロを含むファイルは添付できません。マクロのない形式で保存し直してください"
        )
    declared = sum(m.file_size for m in members)
    too_big = (
        len(members) > MAX_OFFICE_MEMBERS
        or declared > MAX_OFFICE_INFLATED
        or any(
            m.file_size > RATIO_FLOOR and m.file_size > MAX_OFFICE_RATIO * max(1, m.compress_size)
            for m in members
        )
    )
    if too_big:
        raise _too_big()
    inflated = 0
    try:
        for member in members:
            with archive.open(member) as stream:
                while chunk := stream.read(256 * 1024):
                    inflated += len(chunk)
                    if inflated > MAX_OFFICE_INFLATED:
                        raise _too_big()
    except DomainError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError, zlib.error):
        # a CRC or size that does not match, a damaged deflate stream, encryption
        raise _unreadable(LABELS[kind]) from None
    return kind


def _too_big() -> DomainError:
    return DomainError(
        "bad_type",
        f"このファイルは展開すると大きすぎます（{MAX_OFFICE_INFLATED // 1024 // 1024}MBまで）。"
        "画像を小さくするか、ファイルを分けて添付してください",
    )


def stored_name(name: str, kind: str) -> str:
    """The uploader's name without path or control characters, ending with the detected type's
    extension (「見積書.html」 that is a PDF becomes 「見積書.pdf」)."""
    base = re.sub(r"[\x00-\x1f\x7f/\\]", "", name).strip().strip(".") or "file"
    stem, dot, extension = base.rpartition(".")
    if dot and 0 < len(extension) <= 5 and stem:
        base = stem
    suffix = EXTENSIONS[kind]
    return base[: 200 - len(suffix)] + suffix


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose title is `text` (the demo's documents; distinct text, distinct bytes)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def open_verified(attachment: Attachment) -> Any | None:
    """The stored file, opened for reading, if its SHA-256 is still the one recorded at upload; None (and
    an error in the log) if it is not. Http404 if the file is gone."""
    try:
        handle = attachment.file.storage.open(attachment.file.name, "rb")
    except OSError:
        raise Http404("ファイルが見つかりません") from None
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(64 * 1024), b""):
        digest.update(chunk)
    if digest.hexdigest() != attachment.sha256:
        handle.close()
        logger.error("attachment %s: SHA-256 mismatch (tampered or damaged)", attachment.pk)
        return None
    handle.seek(0)
    return handle


def download(attachment: Attachment, handle: Any) -> FileResponse:
    """The download of a verified file: always an attachment, named and typed after what was detected
    at upload (not the uploader's extension), never sniffed or cached."""
    kind = attachment.content_type if attachment.content_type in EXTENSIONS else "application/octet-stream"
    name = stored_name(attachment.name, kind) if kind in EXTENSIONS else "file.bin"
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=kind)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
