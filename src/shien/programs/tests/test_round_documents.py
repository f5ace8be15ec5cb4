"""Round documents (公募要領・様式・その他): the secretariat publishes them per round, the bureau reads,
everyone downloads them on the program page and in the jGrants-compatible API; and the generated PDF
summaries of each round's rules."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from shien.accounts.models import Role, User
from shien.applications.tests.factories import user
from shien.core.models import AuditLog
from shien.programs import documents, summaries
from shien.programs.models import RoundDocument
from shien.rules.registry import registry
from shien.rules.terms import frame_terms

pytestmark = pytest.mark.django_db


def pdf(title: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = pdf("公募要領（第18次）")
URL = "/office/documents/monozukuri/18/"


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="PNG")
    return out.getvalue()


PNG = png()


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def secretariat() -> User:
    return user("s@example.jp", Role.SECRETARIAT)


def logged_in(who: User) -> Client:
    client = Client()
    client.force_login(who)
    return client


def upload(client: Client, content: bytes, *, name: str = "公募要領.pdf", kind: str = "guidelines",
           title: str = "公募要領（第18次）", url: str = URL) -> Any:  # fmt: skip
    return client.post(url, {"kind": kind, "title": title, "file": SimpleUploadedFile(name, content)})


def frame_detail(client: Client, frame_title: str) -> dict[str, Any]:
    found = client.get(
        "/exp/v1/public/subsidies",
        {"keyword": frame_title, "sort": "created_date", "order": "ASC", "acceptance": "0"},
    ).json()["result"]
    return client.get(f"/exp/v1/public/subsidies/id/{found[0]['id']}").json()["result"][0]


def test_secretariat_publishes_a_guideline_served_on_the_page_and_in_jgrants(secretariat: User) -> None:
    client = logged_in(secretariat)
    page = client.get(URL)
    assert page.status_code == 200 and "資料を登録する" in page.content.decode()
    response = upload(client, PDF)
    assert response.status_code == 302 and response["Location"] == URL
    document = RoundDocument.objects.get()
    assert (document.program, document.round_id, document.kind, document.content_type) == (
        "monozukuri", "18", "guidelines", "application/pdf",
    )  # fmt: skip
    assert document.size == len(PDF) and document.uploaded_by == secretariat
    assert AuditLog.objects.filter(action="round_document.add", object_id=str(document.pk)).count() == 1
    # the program page links it with its size; the download is the same bytes, named by its type
    body = Client().get("/programs/monozukuri/").content.decode()
    assert f"/programs/monozukuri/documents/{document.pk}/" in body and "公募要領（第18次）" in body
    assert "（PDF、" in body
    download = Client().get(f"/programs/monozukuri/documents/{document.pk}/")
    assert download.content == PDF and download["Content-Type"] == "application/pdf"
    assert "attachment" in download["Content-Disposition"] and ".pdf" in download["Content-Disposition"]
    # jGrants: application_guidelines of each frame of the round, {name, data} in strict base64
    anonymous = Client()
    guidelines = frame_detail(anonymous, "省力化(オーダーメイド)")["application_guidelines"]
    assert guidelines == [{"name": "公募要領（第18次）.pdf", "data": base64.b64encode(PDF).decode()}]
    assert base64.b64decode(guidelines[0]["data"], validate=True) == PDF
    # a frame of another program has none; a list response carries no files
    assert frame_detail(anonymous, "持続化")["application_guidelines"] == []
    listed = anonymous.get(
        "/exp/v1/public/subsidies",
        {"keyword": "補助金", "sort": "created_date", "order": "ASC", "acceptance": "0"},
    )
    assert b"application_guidelines" not in listed.content and len(listed.content) < 20_000


def test_forms_go_to_application_form_and_others_to_outline(secretariat: User) -> None:
    client = logged_in(secretariat)
    assert upload(client, docx(), name="様式1.docx", kind="form", title="様式1 事業計画書").status_code == 302
    detail = frame_detail(Client(), "省力化(オーダーメイド)")
    assert [f["name"] for f in detail["application_form"]] == ["様式1 事業計画書.docx"]
    assert detail["application_guidelines"] == []
    assert detail["outline_of_grant"][0]["name"].endswith("_outline.txt")  # shien's outline stays first


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"<html><script>alert(1)</script></html>", 422, "PDF、Word（.docx）、Excel（.xlsx）"),
        (PNG, 422, "PDF、Word（.docx）、Excel（.xlsx）"),  # an image is not a round document
        (b"%PDF-1.7 truncated", 422, "PDF"),  # the checker's own explanation
        (b"", 422, "ファイル"),
    ],
)
def test_wrong_files_are_refused_and_the_input_kept(
    secretariat: User, content: bytes, status: int, message: str
) -> None:
    response = upload(logged_in(secretariat), content, title="残る表題")
    assert response.status_code == status and message in response.content.decode()
    assert 'value="残る表題"' in response.content.decode()
    assert not RoundDocument.objects.exists()


def test_a_long_title_is_counted_whole_and_shown_again_only_in_part(secretariat: User) -> None:
    response = upload(logged_in(secretariat), PDF, title="表" * 100_000)
    page = response.content.decode()
    assert response.status_code == 422 and not RoundDocument.objects.exists()
    assert (
        "表題は200文字以内で入力してください（いまは100,000文字。400文字を超える部分は表示していません）"
        in page
    )
    assert "表" * 400 in page and "表" * 401 not in page


def test_size_limit(secretariat: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", len(PDF) - 1)
    response = upload(logged_in(secretariat), PDF)
    assert response.status_code == 413 and "MBまで" in response.content.decode()
    assert not RoundDocument.objects.exists()


def test_the_same_file_twice_is_one_document(secretariat: User) -> None:
    client = logged_in(secretariat)
    assert upload(client, PDF).status_code == 302
    again = upload(client, PDF, title="別の表題")  # a double click, or the same file under another name
    assert again.status_code == 409 and "公募要領（第18次）" in again.content.decode()
    assert RoundDocument.objects.count() == 1
    # another round may publish the same file
    assert upload(client, PDF, url="/office/documents/monozukuri/17/").status_code == 302
    assert RoundDocument.objects.count() == 2


def test_bureau_reads_only_and_others_are_refused(secretariat: User) -> None:
    upload(logged_in(secretariat), PDF)
    document = RoundDocument.objects.get()
    bureau = logged_in(user("k@example.jp", Role.BUREAU))
    page = bureau.get(URL)
    assert page.status_code == 200 and "閲覧のみ" in page.content.decode()
    assert "資料を登録する" not in page.content.decode() and "公募要領（第18次）" in page.content.decode()
    assert upload(bureau, docx(), name="x.docx").status_code == 403
    assert bureau.post(f"{URL}{document.pk}/remove/").status_code == 403
    for who in (user("r@example.jp", Role.REVIEWER), user("a@example.jp")):
        assert logged_in(who).get(URL).status_code == 403
        assert upload(logged_in(who), docx(), name="x.docx").status_code == 403
    assert Client().get(URL).status_code == 302  # to the login
    assert RoundDocument.objects.count() == 1
    assert logged_in(secretariat).get("/office/documents/monozukuri/nope/").status_code == 404


def test_csrf_is_required(secretariat: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(secretariat)
    assert upload(client, PDF).status_code == 403
    assert not RoundDocument.objects.exists()


def test_remove_is_audited_and_idempotent(
    secretariat: User, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(secretariat)
    upload(client, PDF)
    document = RoundDocument.objects.get()
    stored = media / document.file.name
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once the removal commits
        response = client.post(f"{URL}{document.pk}/remove/")
    assert response.status_code == 302
    assert not RoundDocument.objects.exists() and not stored.exists()
    assert AuditLog.objects.filter(action="round_document.remove", object_id=str(document.pk)).count() == 1
    again = client.post(f"{URL}{document.pk}/remove/", follow=True)  # a double click
    assert "すでに削除されています" in again.content.decode()
    assert AuditLog.objects.filter(action="round_document.remove").count() == 1
    assert frame_detail(Client(), "省力化(オーダーメイド)")["application_guidelines"] == []
    assert Client().get(f"/programs/monozukuri/documents/{document.pk}/").status_code == 404


def test_a_changed_file_is_not_served(secretariat: User, media: Path) -> None:
    upload(logged_in(secretariat), PDF)
    document = RoundDocument.objects.get()
    (media / document.file.name).write_bytes(PDF + b"forged")
    assert Client().get(f"/programs/monozukuri/documents/{document.pk}/").status_code == 503
    assert frame_detail(Client(), "省力化(オーダーメイド)")["application_guidelines"] == []


def test_office_index_lists_every_round_of_every_grant_program(secretariat: User) -> None:
    upload(logged_in(secretariat), PDF)
    body = logged_in(secretariat).get("/office/documents/").content.decode()
    for program in registry().programs.values():
        for window in program.rounds if program.kind == "grant" else ():
            assert f"/office/documents/{program.id}/{window.id}/" in body
    assert "1件" in body
    assert "/office/documents/" in logged_in(secretariat).get("/office/").content.decode()


# -- the generated summaries ----------------------------------------------------------------------------


def test_round_summary_pdf_has_the_label_the_figures_and_the_marks() -> None:
    from pypdf import PdfReader

    program = registry().programs["monozukuri"]
    window = next(r for r in program.rounds if r.id == "18")
    started = time.perf_counter()
    content = summaries.render_pdf(program, window)
    elapsed = time.perf_counter() - started
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    flat = "".join(text.split())
    assert "shienが公開パラメータから作成した要約です（公募要領ではありません）" in flat
    terms = frame_terms("monozukuri/shoryokuka", summaries.rules_day(window))
    assert terms is not None
    cap = terms["caps"]["rows"][-1]["cap_yen"]
    assert f"{cap:,}円" in flat  # a cap figure read from the parameters
    assert "※未確認" in flat and "18次公募" in flat and "令和6年3月27日" in flat
    assert elapsed < 30, elapsed


def test_make_round_summaries_publishes_one_per_round_idempotently() -> None:
    call_command("make_round_summaries", "--program", "monozukuri", stdout=io.StringIO())
    rounds = summaries.rounds_to_summarise(["monozukuri"])
    assert len(rounds) == len(registry().programs["monozukuri"].rounds) >= 2
    generated = RoundDocument.objects.filter(generated=True)
    assert generated.count() == len(rounds)
    assert {(d.program, d.round_id) for d in generated} == {(p.id, r.id) for p, r in rounds}
    assert all(d.kind == RoundDocument.Kind.OTHER and d.uploaded_by is None for d in generated)
    out = io.StringIO()
    call_command("make_round_summaries", "--program", "monozukuri", stdout=out)  # again: nothing new
    assert f"変更なし {len(rounds)}件" in out.getvalue() and generated.count() == len(rounds)
    # served as the outline (not as a 公募要領), labelled on the program page
    outline = frame_detail(Client(), "省力化(オーダーメイド)")["outline_of_grant"]
    assert any(f["name"].endswith("ルールの要約（shien 作成）.pdf") for f in outline)
    assert "公募要領ではありません" in Client().get("/programs/monozukuri/").content.decode()


def test_demo_only_summaries_wait_for_the_demo() -> None:
    with pytest.raises(CommandError, match="制度が見つかりません: nope"):
        call_command("make_round_summaries", "--program", "nope")
    out = io.StringIO()
    call_command("make_round_summaries", "--demo", stdout=out)
    assert "練習用の公募回がないため" in out.getvalue() and not RoundDocument.objects.exists()
