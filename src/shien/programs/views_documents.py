"""Round documents: the secretariat's pages to publish and withdraw them (the bureau reads), and the
public download that the program page and the jGrants-compatible API point at."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from shien.accounts.models import User
from shien.applications.views_office import STAFF, office_area, office_nav
from shien.core.errors import DomainError, http_status
from shien.programs import documents
from shien.programs.models import RoundDocument
from shien.rules.registry import registry
from shien.rules.text import echo, wareki_datetime


@never_cache
@office_area(*STAFF)
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    """Every round of every grant program, with how many documents it has."""
    counts = documents.counts_by_round()
    programs = [
        {
            "id": p.id,
            "name": p.short_name,
            "rounds": [
                {"id": r.id, "name": r.name, "count": counts.get((p.id, r.id), 0)} for r in reversed(p.rounds)
            ],
        }
        for p in registry().programs.values()
        if p.kind == "grant" and p.rounds
    ]
    return render(request, "office/documents.html", {**office_nav(request), "programs": programs})


def _round_page(
    request: HttpRequest,
    program: str,
    round_id: str,
    *,
    values: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    window = documents.round_get(program, round_id)
    items = list(documents.documents_of(program, round_id).select_related("uploaded_by"))
    rows = [
        {**row, "uploaded_by": (d.uploaded_by.name or d.uploaded_by.email) if d.uploaded_by else "shien（自動作成）",
         "uploaded_at": wareki_datetime(d.uploaded_at)}
        for row, d in zip(documents.public_list(items), items, strict=True)
    ]  # fmt: skip
    context = {
        **office_nav(request),
        "program": registry().programs[program],
        "window": window,
        "documents": rows,
        "kinds": RoundDocument.Kind.choices,
        "values": values or {},
        "problems": problems or [],
        "max_mb": documents.MAX_DOCUMENT_BYTES // 1024 // 1024,
    }
    return render(request, "office/round_documents.html", context, status=status)


@never_cache
@office_area(*STAFF)
@require_http_methods(["GET", "POST"])
def round_documents(request: HttpRequest, user: User, program: str, round_id: str) -> HttpResponse:
    """GET: the round's documents (and, for the secretariat, the upload form); POST: publish one."""
    documents.round_get(program, round_id)  # not_found: the 404 page
    if request.method == "GET":
        return _round_page(request, program, round_id)
    typed_title = request.POST.get("title", "")
    # shown again up to the limit and a margin (rules.text.echo); checked whole, so the count is true
    values = {"kind": request.POST.get("kind", ""), "title": echo(typed_title, documents.TITLE_MAX)}
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise DomainError(
                "invalid_input", "ファイルを選んでください", [{"field": "file", "message": "選んでください"}]
            )
        title = typed_title.strip() or (upload.name or "").rsplit(".", 1)[0]
        content = bytes(upload.read(documents.MAX_DOCUMENT_BYTES + 1))
        document = documents.document_add(
            actor=user, program=program, round_id=round_id, kind=values["kind"], title=title, content=content
        )
    except DomainError as exc:
        problems = [{"message": exc.message}]
        return _round_page(
            request, program, round_id, values=values, problems=problems, status=http_status(exc)
        )
    messages.success(request, f"「{document.title}」を登録しました（{documents.size_text(document.size)}）")
    return redirect("office-round-documents", program, round_id)


@never_cache
@office_area(*STAFF)
@require_POST
def round_document_remove(
    request: HttpRequest, user: User, program: str, round_id: str, pk: int
) -> HttpResponse:
    documents.round_get(program, round_id)
    if not documents.documents_of(program, round_id).filter(pk=pk).exists():
        messages.info(request, "この資料はすでに削除されています")
        return redirect("office-round-documents", program, round_id)
    removed = documents.document_remove(actor=user, document_id=pk)
    if removed is None:
        messages.info(request, "この資料はすでに削除されています")
    else:
        messages.success(request, f"「{removed.title}」を削除しました")
    return redirect("office-round-documents", program, round_id)


@require_safe
def download(request: HttpRequest, program_id: str, pk: int) -> HttpResponse:
    """A published document, as uploaded (its SHA-256 checked), named after its detected type."""
    document = RoundDocument.objects.filter(program=program_id, pk=pk).first()
    if document is None:
        raise Http404("資料が見つかりません")
    content = documents.read_verified(document)
    if content is None:
        return HttpResponse(
            "この資料は現在表示できません。事務局に連絡してください",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(content, content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, documents.filename(document))
    response["Content-Length"] = str(len(content))
    return response
