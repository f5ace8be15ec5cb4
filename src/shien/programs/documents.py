"""The documents of each round (公募要領, 様式, その他) that the secretariat publishes.

Only the secretariat adds or removes them (the bureau reads); everyone may download them, on the
program page and in the jGrants-compatible API. A file's type is read from its bytes by the same
checker as application attachments (PDF, Word .docx, Excel .xlsx are accepted), its size is limited,
its SHA-256 is recorded at upload and checked on every read, and every change is audited.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, QuerySet

from shien.accounts.models import Role, User
from shien.core.errors import DomainError
from shien.core.services import audit_record, delete_with_file
from shien.programs.models import RoundDocument
from shien.rules.registry import Round, registry
from shien.rules.text import too_long

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
TITLE_MAX = 200  # characters of a document's title (RoundDocument.title)
ALLOWED = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
# jGrants' attachment arrays for each kind of document
JGRANTS_FIELD = {
    RoundDocument.Kind.GUIDELINES: "application_guidelines",
    RoundDocument.Kind.FORM: "application_form",
    RoundDocument.Kind.OTHER: "outline_of_grant",
}
UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def _roles(user: User) -> set[str]:
    from shien.applications.office import roles_of

    return roles_of(user)


def can_manage(user: User) -> bool:
    """Only the secretariat (事務局) adds and removes a round's documents."""
    return Role.SECRETARIAT in _roles(user)


def can_view_office(user: User) -> bool:
    return bool(_roles(user) & {Role.SECRETARIAT, Role.BUREAU})


def round_get(program: str, round_id: str) -> Round:
    window = registry().round(program, round_id)
    if window is None:
        raise DomainError("not_found", "公募回が見つかりません")
    return window


def filename(document: RoundDocument) -> str:
    """The download name: the title, made safe, with the extension of the detected type."""
    stem = UNSAFE.sub("_", document.title).strip(" .") or "document"
    return stem[:150] + ALLOWED.get(document.content_type, "")


def documents_of(program: str, round_id: str) -> QuerySet[RoundDocument]:
    return RoundDocument.objects.filter(program=program, round_id=round_id)


def documents_of_program(program: str) -> dict[str, list[RoundDocument]]:
    """A program's documents by round id (one query)."""
    out: dict[str, list[RoundDocument]] = {}
    for document in RoundDocument.objects.filter(program=program):
        out.setdefault(document.round_id, []).append(document)
    return out


def counts_by_round() -> dict[tuple[str, str], int]:
    rows = RoundDocument.objects.order_by().values_list("program", "round_id").annotate(n=Count("pk"))
    return {(p, r): n for p, r, n in rows}


def stamp() -> str:
    """Changes whenever a document is added or removed (for keys of cached pages)."""
    found = RoundDocument.objects.aggregate(n=Count("pk"), last=Max("pk"))
    return f"{found['n'] or 0}-{found['last'] or 0}"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _check(content: bytes) -> str:
    """The file's real type (read by the attachments' checker: pypdf, zip limits), or DomainError."""
    from shien.applications.files import NOT_ALLOWED, detect

    if not content:
        raise DomainError("empty", "空のファイルは登録できません")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DomainError("too_large", f"資料のファイルは{MAX_DOCUMENT_BYTES // 1024 // 1024}MBまでです")
    try:
        kind = detect(content)
    except DomainError as exc:
        if exc.message != NOT_ALLOWED:
            raise  # unreadable, encrypted, inflating too far: the checker's own explanation
        kind = ""
    if kind not in ALLOWED:
        raise DomainError(
            "bad_type", "公募回の資料として登録できるのは PDF、Word（.docx）、Excel（.xlsx）のファイルです"
        )
    return kind


@transaction.atomic
def document_add(
    *,
    actor: User | None,
    program: str,
    round_id: str,
    kind: str,
    title: str,
    content: bytes,
    generated: bool = False,
    source_sha256: str = "",
) -> RoundDocument:
    """Publish a file for a round. The same content again in that round (a double click, a retry) is
    refused with the name it already has. `actor` None with `generated`: shien's own summary."""
    if not generated and (actor is None or not can_manage(actor)):
        raise DomainError("forbidden", "公募回の資料を登録できるのは事務局だけです")
    round_get(program, round_id)
    if kind not in RoundDocument.Kind.values:
        raise DomainError(
            "invalid_input", "資料の種類を選んでください", [{"field": "kind", "message": "選んでください"}]
        )
    title = " ".join(title.split())
    if not title or len(title) > TITLE_MAX:
        message = too_long("表題", TITLE_MAX, len(title)) if title else "表題を入力してください"
        raise DomainError("invalid_input", message, [{"field": "title", "message": message}])
    content_type = _check(content)
    digest = sha256(content)
    existing = documents_of(program, round_id).filter(sha256=digest).first()
    if existing:
        raise DomainError(
            "duplicate", f"同じ内容のファイルがこの公募回にすでに登録されています（{existing.title}）"
        )
    document = RoundDocument(
        program=program,
        round_id=round_id,
        kind=kind,
        title=title,
        content_type=content_type,
        size=len(content),
        sha256=digest,
        generated=generated,
        source_sha256=source_sha256,
        uploaded_by=actor,
    )
    document.file.save(digest, ContentFile(content), save=False)
    stored = document.file.name
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # the same file from a concurrent request: keep that one
        document.file.storage.delete(stored)
        existing = documents_of(program, round_id).get(sha256=digest)
        raise DomainError(
            "duplicate", f"同じ内容のファイルがこの公募回にすでに登録されています（{existing.title}）"
        ) from None
    audit_record(
        actor=actor,
        action="round_document.add",
        obj=document,
        data={"program": program, "round": round_id, "kind": kind, "title": title, "sha256": digest,
              "size": len(content), "generated": generated},
    )  # fmt: skip
    return document


@transaction.atomic
def document_remove(*, actor: User | None, document_id: int, generated: bool = False) -> RoundDocument | None:
    """Withdraw a document; its row goes in the transaction (audited), the file once that commits. A
    document already gone (a double click) is None, not an error."""
    if not generated and (actor is None or not can_manage(actor)):
        raise DomainError("forbidden", "公募回の資料を削除できるのは事務局だけです")
    document = RoundDocument.objects.select_for_update().filter(pk=document_id).first()
    if document is None:
        return None
    delete_with_file(
        actor=actor,
        action="round_document.remove",
        obj=document,
        data={"program": document.program, "round": document.round_id, "kind": document.kind,
              "title": document.title, "sha256": document.sha256, "size": document.size},
    )  # fmt: skip
    return document


def read_verified(document: RoundDocument) -> bytes | None:
    """The stored bytes if their SHA-256 is the one recorded at upload; None (logged) if the file is
    gone or was changed."""
    try:
        with document.file.storage.open(document.file.name, "rb") as handle:
            content: bytes = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError:
        logger.error("round document %s: file missing", document.pk)
        return None
    if hashlib.sha256(content).hexdigest() != document.sha256:
        logger.error("round document %s: SHA-256 mismatch (tampered or damaged)", document.pk)
        return None
    return content


def jgrants_files(program: str, round_id: str) -> dict[str, list[dict[str, str]]]:
    """A round's documents in jGrants' shape: {field: [{"name": file name, "data": strict base64}]}."""
    out: dict[str, list[dict[str, str]]] = {field: [] for field in JGRANTS_FIELD.values()}
    for document in documents_of(program, round_id):
        content = read_verified(document)
        if content is None:
            continue
        out[JGRANTS_FIELD[RoundDocument.Kind(document.kind)]].append(
            {"name": filename(document), "data": base64.b64encode(content).decode("ascii")}
        )
    return out


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size}バイト"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f}KB"
    return f"{size / 1024 / 1024:.1f}MB"


def public_list(documents: list[RoundDocument]) -> list[dict[str, Any]]:
    return [
        {
            "pk": d.pk,
            "title": d.title,
            "kind": d.get_kind_display(),
            "filename": filename(d),
            "size_text": size_text(d.size),
            "type": ALLOWED.get(d.content_type, "").lstrip(".").upper(),
            "generated": d.generated,
            "sha256": d.sha256,
        }
        for d in documents
    ]
