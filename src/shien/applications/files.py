"""Attachments: what a file really is (read with Pillow, pypdf and zipfile, not from its name or first
bytes), the name it is downloaded under, and reading a stored file back only as it was uploaded.

- PDF: pypdf parses the cross-reference table and the page tree (at least one page); a
  password-protected PDF is refused (the office could not open it).
- PNG and JPEG: Pillow decodes every pixel's data, in bounded memory (about 160 MB at most): a PNG
  whole up to `MAX_PNG_PIXELS`; a JPEG at 1/8 scale (all the entropy-coded data is still read) up to
  `MAX_IMAGE_PIXELS`, or `MAX_MULTISCAN_PIXELS` if it has several scans (progressive), with at most
  `MAX_JPEG_SCANS` scans. Larger images are refused before decoding; so is an animated PNG.
  What the decoders themselves tolerate is accepted as viewers show it: libjpeg fills data missing
  before the end marker (or damaged) with gray and only warns, and a PNG whose complete zlib stream
  holds too few rows is filled with black; a stream that is not zlib, damaged or cut short is refused.
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
from shien.core.errors import DomainError
from shien.rules.text import man_yen

logger = logging.getLogger(__name__)

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", DOCX: ".docx", XLSX: ".xlsx"}
LABELS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", DOCX: "Word", XLSX: "Excel"}

# Decoding is bounded in memory (about 160 MB a worker at most) and in time; measured on this machine
# (Pillow 13, libjpeg-turbo, peak RSS above the interpreter's):
# - JPEG with one scan (what cameras and phones write) is decoded at 1/8 scale: 1/64 of the pixels,
#   4 bytes each, so 1億画素 hold about 6 MB (10000×10000: +10 MiB, 0.04 s; 12 MP photo: +4 MiB, 0.07 s).
#   A 108-megapixel phone photo is about 1億画素; a bomb is far more.
MAX_IMAGE_PIXELS = 100_000_000
# - JPEG with several scans (progressive, or components in separate scans): libjpeg keeps every DCT
#   coefficient of the whole image even at 1/8 scale, 2 bytes each, up to 4 full-resolution components
#   (CMYK 4:4:4): 8 bytes a pixel, 160 MB at 2,000万画素 (5000×4000 CMYK measured +157 MiB, 0.23 s;
#   RGB 4:2:0, what encoders write, +62 MiB).
MAX_MULTISCAN_PIXELS = 20_000_000
# Each scan is a pass over the whole image (about 12 ms at 2,000万画素): a 10 MB file of 36-byte scans
# would take an hour, 64 take under a second. Encoders write about 10 (libjpeg's progression; 18 for
# CMYK).
MAX_JPEG_SCANS = 64
# - PNG is decoded whole: Pillow holds up to 4 bytes a pixel (RGB, RGBA, LA, 32-bit gray), 160 MB at
#   4,000万画素 (8000×5000 RGBA measured +156 MiB, 0.25 s). An A4 page scanned at 600 dpi is 3,500万画素.
MAX_PNG_PIXELS = 40_000_000
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
ANIMATED = "動く PNG（APNG）は添付できません。静止画の PNG か JPEG で保存し直してから添付してください"
TOO_MANY_SCANS = (
    f"この JPEG は走査（スキャン）が多すぎて読めません（{MAX_JPEG_SCANS}まで）。"
    "画像を開いて、通常の JPEG として保存し直してから添付してください"
)


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
    from PIL import ImageFile

    # a cut-short image is refused, whatever else in the process has asked Pillow to pad them
    # (WeasyPrint sets LOAD_TRUNCATED_IMAGES = True when it is imported, for the round summaries)
    padding, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        return _decoded_image(content, label)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = padding


def _decoded_image(content: bytes, label: str) -> str:
    import warnings

    from PIL import Image, UnidentifiedImageError

    def opened() -> Any:
        with warnings.catch_warnings():  # Pillow warns from 89 MP on: the limits are the ones below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(content), formats=["PNG", "JPEG"])

    try:
        with opened() as image:
            width, height = image.size
            if image.format != "PNG":
                scans = jpeg_scans(content)
                if scans > MAX_JPEG_SCANS:
                    raise DomainError("bad_type", TOO_MANY_SCANS)
                several = scans > 1 or bool(image.info.get("progressive"))
                if width * height > (MAX_MULTISCAN_PIXELS if several else MAX_IMAGE_PIXELS):
                    words = "プログレッシブ形式の JPEG" if several else "JPEG"
                    raise _too_many_pixels(
                        width, height, words, MAX_MULTISCAN_PIXELS if several else MAX_IMAGE_PIXELS
                    )
                image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8 scale
                image.load()  # reads all the entropy-coded data: a damaged or truncated file fails here
                return JPEG
            if width * height > MAX_PNG_PIXELS:
                raise _too_many_pixels(width, height, "PNG", MAX_PNG_PIXELS)
            if getattr(image, "is_animated", False):
                raise DomainError("bad_type", ANIMATED)
            image.verify()  # every chunk's CRC, through IEND (decoding skips the pixel data's CRCs)
        with opened() as image:  # verify() leaves the image unusable: open it again to decode the pixels
            image.load()  # inflates and unfilters every row: data that is not a zlib stream fails here
    except DomainError:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's limit: refused at open, size unread
        raise _too_many_pixels(0, 0, "画像", MAX_IMAGE_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, IndexError, EOFError, zlib.error):
        raise _unreadable(label) from None  # IndexError: Pillow's verify of a PNG without IDAT
    return PNG


_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")  # not a stuffed 0xFF, a restart or a fill byte


def jpeg_scans(content: bytes) -> int:
    """How many scans (SOS markers) the first image of a JPEG has, counted up to MAX_JPEG_SCANS + 1.

    Only to bound the cost before Pillow decodes (the file is read by Pillow, not here): the segments
    are skipped by their lengths, so a thumbnail inside the EXIF data is not counted, and the count
    stops at the first image's EOI (an iPhone photo's appended gain map is not decoded either).
    Inside entropy-coded data a 0xFF is followed by 0x00 or a restart marker, never by a marker."""
    count, at = 0, 2
    while count <= MAX_JPEG_SCANS:
        found = _MARKER.search(content, at)
        if found is None or found.start() + 4 > len(content):
            break
        at, marker = found.start(), content[found.start() + 1]
        if marker == 0xD9:  # EOI
            break
        if marker in (0xD8, 0x01):  # SOI, TEM: no length
            at += 2
            continue
        count += marker == 0xDA
        at += 2 + int.from_bytes(content[at + 2 : at + 4], "big")
    return count


def _too_many_pixels(width: int, height: int, words: str, limit: int) -> DomainError:
    size = f"（{width}×{height}）" if width else ""
    return DomainError(
        "bad_type",
        f"画像の画素数が多すぎます{size}。{words} は{_pixels(limit)}まで添付できます。"
        "縮小してから添付してください",
    )


def _pixels(count: int) -> str:
    """4,000万画素 / 1億画素 (not 「10,000万」)."""
    return f"{man_yen(count).removesuffix('円')}画素"


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
