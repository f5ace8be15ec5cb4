"""Writes of the applications app: draft, autosave, attachments, submission (each audited)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from shien.accounts.models import Organization, User
from shien.accounts.selectors import can_act_for
from shien.applications import changes, workflow

# what a file really is (Pillow, pypdf, zipfile); `sniff` is also used from here by programs.documents
from shien.applications.files import detect, sniff, stored_name  # noqa: F401
from shien.applications.judging import _frame_result, organization_facts, profile_for  # noqa: F401
from shien.applications.limits import free_text
from shien.applications.models import Application, Attachment, ReceiptCounter, State
from shien.core.errors import DomainError
from shien.core.services import audit_record, created_before, delete_with_file
from shien.rules import clock
from shien.rules.frames.base import rounds_at
from shien.rules.registry import JST, registry
from shien.rules.text import wareki_datetime

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
EDITABLE = (State.DRAFT, State.RETURNED)
ATTACHABLE = (*EDITABLE, State.GRANTED)  # application documents, then evidence for the results report


# the organization's own facts: taken from the organization, never from a saved 診断
ORGANIZATION_FACTS = ("prefecture", "industry", "employees", "capital_yen")


def plan_from_profile(profile: dict[str, Any], program: str, frame: str) -> dict[str, Any]:
    """A draft plan prefilled from a saved 診断's profile: the frame's purposes and expenses, the
    commitments, and the business facts the organization does not hold (wages, tax status, …)."""
    eligible = registry().programs[program].frames[frame]
    plan = profile.get("plan") or {}
    business = {
        k: v
        for k, v in (profile.get("business") or {}).items()
        if k not in ORGANIZATION_FACTS and v is not None
    }
    return {
        "purposes": [p for p in plan.get("purposes") or [] if p in eligible.purposes],
        "expenses": [e for e in plan.get("expenses") or [] if e.get("category") in eligible.expenses],
        "commitments": {k: v for k, v in (plan.get("commitments") or {}).items() if v is not None},
        "business": business,
    }


@transaction.atomic
def application_create(
    *,
    actor: User,
    organization: Organization,
    program: str,
    frame: str,
    plan: dict[str, Any] | None = None,
    diagnosis: Any | None = None,
    idempotency_key: str = "",
) -> Application:
    """A draft in the frame's current round. With `diagnosis` (a SavedDiagnosis of the actor) the plan
    is prefilled from its profile. With `idempotency_key` (one per rendered form) a repeated request
    (double click, retry) returns the draft the first one created instead of a second draft."""
    if not can_act_for(actor, organization):
        raise DomainError("forbidden", "この事業者の申請を作成する権限がありません")
    prog = registry().programs.get(program)
    if prog is None or prog.kind != "grant" or frame not in prog.frames:
        raise DomainError("not_found", "補助金の枠が見つかりません")
    if diagnosis is not None and diagnosis.user_id != actor.pk:
        raise DomainError("not_found", "保存した診断結果が見つかりません")
    key = idempotency_key.strip()[:100]
    if key:
        earlier = created_before(actor=actor, action="application.create", key=key)
        repeat = Application.objects.filter(
            pk__in=earlier, organization=organization, program=program, frame=frame
        ).first()
        if repeat is not None:
            return repeat
    current = rounds_at(clock.now())[f"{program}/{frame}"].round
    if current is None:
        raise DomainError("no_round", "この枠には申請できる公募回がありません")
    if plan is None and diagnosis is not None:
        plan = plan_from_profile(diagnosis.profile, program, frame)
    application = Application(
        organization=organization,
        program=program,
        frame=frame,
        round_id=current.id,
        plan=plan or {},
        created_by=actor,
    )
    application.estimate_yen = _frame_result(application, clock.now())["subsidy_yen"]
    application.save()
    data: dict[str, Any] = {"round": current.id}
    if diagnosis is not None:
        data["diagnosis"] = diagnosis.pk
    if key:
        data["idempotency_key"] = key
    audit_record(actor=actor, action="application.create", obj=application, data=data)
    return application


@transaction.atomic
def application_autosave(
    *, actor: User, application: Application, plan: dict[str, Any], version: int
) -> Application:
    """Save the draft as typed; a save based on an older version (another tab) is refused, not merged."""
    locked = Application.objects.select_for_update().select_related("organization").get(pk=application.pk)
    if not can_act_for(actor, locked.organization):
        raise DomainError("forbidden", "この申請を編集する権限がありません")
    if locked.state not in EDITABLE:
        raise DomainError("invalid_state", f"「{State(locked.state).label}」の申請は編集できません")
    if version != locked.version:
        raise DomainError(
            "conflict", "別の画面で更新されています。最新の内容を読み込んでから編集してください"
        )
    locked.plan = plan
    locked.version += 1
    try:
        locked.estimate_yen = _frame_result(locked, clock.now())["subsidy_yen"]
    except DomainError:
        locked.estimate_yen = None  # a draft may be incomplete; it is validated on submission
    locked.save()
    audit_record(actor=actor, action="application.save", obj=locked, data={"version": locked.version})
    return locked


def application_withdraw(*, actor: User, application: Application, reason: str) -> Application:
    """取下げ, from every state the state machine allows, with a reason. A pending 計画変更 is withdrawn
    with it. Withdrawing again (a double click) returns the withdrawn application."""
    current = Application.objects.get(pk=application.pk)
    if current.state == State.WITHDRAWN and can_act_for(actor, application.organization):
        return current

    def apply(locked: Application) -> dict[str, Any]:
        return {"changes_withdrawn": changes.withdraw_pending(actor=actor, application=locked)}

    try:
        return workflow.transition(
            actor=actor, application=current, action_name="withdraw", reason=reason, apply=apply
        )
    except DomainError as exc:
        if exc.code == "invalid_state":  # lost a race with another tab: that withdrawal stands
            again = Application.objects.get(pk=application.pk)
            if again.state == State.WITHDRAWN:
                return again
        raise


# -- saved 診断 ---------------------------------------------------------------------------------------


# -- attachments ----------------------------------------------------------------------------------------


def _duplicate(existing: Attachment) -> DomainError:
    return DomainError("duplicate", f"同じ内容のファイルがすでに添付されています（{existing.name}）")


@transaction.atomic
def attachment_add(
    *, actor: User, application: Application, name: str, content: bytes, refuse_duplicate: bool = False
) -> Attachment:
    """Attach a file (its type read from its bytes). The same content again (a retry, a double click, the
    same file under another name) is the one attachment already there: returned, or with
    `refuse_duplicate` (the upload form, where the user should be told) refused with its name."""
    if not can_act_for(actor, application.organization):
        raise DomainError("forbidden", "この申請に添付する権限がありません")
    if application.state not in ATTACHABLE:
        raise DomainError("invalid_state", "この状態の申請には添付できません")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise DomainError("too_large", f"添付ファイルは{MAX_ATTACHMENT_BYTES // 1024 // 1024}MBまでです")
    if not content:
        raise DomainError("empty", "空のファイルは添付できません")
    kind = detect(content)  # DomainError bad_type, in Japanese, for anything else
    digest = hashlib.sha256(content).hexdigest()
    existing = application.attachments.filter(sha256=digest).first()
    if existing:
        if refuse_duplicate:
            raise _duplicate(existing)
        return existing  # the same file twice (a retry, a double click) is one attachment
    attachment = Attachment(
        application=application,
        name=stored_name(name, kind),  # the detected type's extension, not the uploader's
        content_type=kind,
        size=len(content),
        sha256=digest,
        uploaded_by=actor,
    )
    attachment.file.save(digest, ContentFile(content), save=False)
    try:  # durable before its row commits: a committed row never points at a file a crash could lose
        path = attachment.file.path
    except NotImplementedError:  # a storage without local paths keeps its own guarantees
        path = ""
    if path:
        import os

        for target in (path, os.path.dirname(path)) if os.name == "posix" else (path,):
            fd = os.open(target, os.O_RDONLY)  # the file, then its directory entry
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    try:
        with transaction.atomic():
            attachment.save()
    except IntegrityError:  # the same file from a concurrent request (double click): keep that one
        attachment.file.storage.delete(attachment.file.name)  # the name this call wrote is its own
        existing = application.attachments.get(sha256=digest)
        if refuse_duplicate:
            raise _duplicate(existing) from None
        return existing
    audit_record(
        actor=actor, action="attachment.add", obj=attachment, data={"sha256": digest, "size": len(content)}
    )
    return attachment


@transaction.atomic
def attachment_delete(*, actor: User, application: Application, attachment_id: int) -> Attachment | None:
    """Remove an attachment from a draft (or a returned application) while it may still be edited. The
    row goes in the transaction, audited with what it was; the stored file only once that has committed
    (a rollback keeps both). An attachment already gone (a double click) is None, not an error."""
    locked = Application.objects.select_for_update().select_related("organization").get(pk=application.pk)
    if not can_act_for(actor, locked.organization):
        raise DomainError("forbidden", "この申請の添付ファイルを削除する権限がありません")
    if locked.state not in EDITABLE:
        raise DomainError(
            "invalid_state", f"「{State(locked.state).label}」の申請の添付ファイルは削除できません"
        )
    attachment = locked.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        return None
    delete_with_file(
        actor=actor,
        action="attachment.delete",
        obj=attachment,
        data={"application": locked.pk, "name": attachment.name, "sha256": attachment.sha256,
              "size": attachment.size},
    )  # fmt: skip
    return attachment


# -- submission -------------------------------------------------------------------------------------------


def needs_form4(program: str) -> bool:
    """Whether the program asks for a 事業支援計画書（様式4） before applying (`support_plan_required` in
    its YAML: 持続化)."""
    found = registry().programs.get(program)
    return found is not None and found.support_plan_required


@transaction.atomic
def form4_issue(
    *, actor: User, application: Application, comment: str = "", at: datetime | None = None
) -> Any:
    """The advisor (with the business's consent) issues 様式4, by the round's 様式4 deadline."""
    from shien.accounts.models import Role
    from shien.applications.models import Form4Issue

    at = (at or clock.now()).astimezone(JST)
    comment = free_text(comment, label="支援内容")
    consent = application.organization.advisor_consents.filter(
        advisor=actor, revoked_at__isnull=True
    ).exists()
    if not (actor.has_role(Role.ADVISOR) and consent):
        raise DomainError("forbidden", "様式4は、事業者の同意を受けた商工会・商工会議所の支援者が交付します")
    if not needs_form4(application.program):
        raise DomainError("invalid_input", "この補助金に事業支援計画書（様式4）はありません")
    application = Application.objects.select_for_update().get(pk=application.pk)  # not while it is submitted
    if application.state not in EDITABLE:
        raise DomainError("invalid_state", "申請前の申請にだけ様式4を交付できます")
    window = registry().round(application.program, application.round_id)
    if window is not None and window.form4_deadline is not None and at > window.form4_deadline:
        raise DomainError(
            "form4_deadline_passed",
            f"様式4の交付の受付締切（原則 {wareki_datetime(window.form4_deadline)}）を過ぎています",
        )
    issue, created = Form4Issue.objects.get_or_create(
        application=application, defaults={"advisor": actor, "issued_at": at, "comment": comment}
    )
    if created:
        audit = audit_record(actor=actor, action="form4.issue", obj=application, data={"advisor": actor.pk})
        from shien.applications.notifications import form4_issued

        form4_issued(application, audit.pk)  # the business was waiting on it to submit
    return issue


def _next_receipt(program: str, round_id: str) -> str:
    """The round's next number, in the caller's transaction (the state change's): the UPDATE locks the
    counter row until that transaction ends, so concurrent submissions take numbers one after another,
    and one that rolls back (an error, a killed server) takes its number back with it: no gap, no repeat."""
    from django.db import connection

    q = connection.ops.quote_name  # one statement takes the lock and reads the number (SQLite ≥ 3.35)
    table, last = q(ReceiptCounter._meta.db_table), q("last")
    increment = (
        f"UPDATE {table} SET {last} = {last} + 1 WHERE program = %s AND round_id = %s RETURNING {last}"  # noqa: S608 (quoted names; values are parameters)
    )
    with connection.cursor() as cursor:
        cursor.execute(increment, [program, round_id])
        row = cursor.fetchone()
        if row is None:  # the round's first submission
            ReceiptCounter.objects.get_or_create(program=program, round_id=round_id)
            cursor.execute(increment, [program, round_id])
            row = cursor.fetchone()
    return f"{program.upper()}-{round_id}-{row[0]:06d}"


def application_submit(*, actor: User, application: Application, at: datetime | None = None) -> Application:
    """Submit once: validated against the frame's criteria, refused outside the round's window
    (server time, to the second); a second submission (double click, second tab) returns the first."""
    at = (at or clock.now()).astimezone(JST)

    def apply(locked: Application) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        window = registry().round(locked.program, locked.round_id)
        if window is None or window.acceptance_start is None or window.acceptance_end is None:
            raise DomainError("no_round", "この公募回の受付期間が定まっていません")
        if at < window.acceptance_start:
            raise DomainError(
                "not_open", f"受付開始前です（受付開始 {wareki_datetime(window.acceptance_start)}）"
            )
        # a correction after 差戻し answers the secretariat, not the call: it may come after the deadline,
        # keeps its number and first 受付日時, and is judged by the rules as of that first submission
        resubmission = locked.state == State.RETURNED and locked.submitted_at is not None
        if at > window.acceptance_end and not resubmission:
            raise DomainError(
                "deadline_passed", f"締切を過ぎています（締切 {wareki_datetime(window.acceptance_end)}）"
            )
        if needs_form4(locked.program) and not hasattr(locked, "form4"):
            raise DomainError(
                "form4_missing",
                "商工会・商工会議所から事業支援計画書（様式4）の交付を受けてから申請してください",
            )
        # judged on the organization's facts now, and kept with it (a resubmission takes them afresh)
        locked.facts = organization_facts(locked.organization)
        result = _frame_result(locked, locked.submitted_at if resubmission else at)
        failed = [c for c in result["criteria"] if c["passed"] is False]
        if failed:
            raise DomainError(
                "not_eligible",
                "申請の要件を満たしていません",
                [{"field": c["code"], "label": c["label"], "message": c["message"]} for c in failed],
            )
        attachments = list(locked.attachments.order_by("uploaded_at", "pk").values("name", "size", "sha256"))
        # the number last: from here every submission of the round waits for this one to commit
        if not locked.receipt_number:  # a resubmission after 差戻し keeps its number
            locked.receipt_number = _next_receipt(locked.program, locked.round_id)
        if not resubmission:
            locked.submitted_at = at
        locked.estimate_yen = result["subsidy_yen"]
        # the receipt (number, time, attachments with hashes) is the audit record's data, and the
        # inbox message and email of the transition (sent once committed, never for a repeated click)
        if resubmission:
            extra["resubmitted_at"] = at.isoformat()
        return {**extra, "receipt_number": locked.receipt_number, "estimate_yen": locked.estimate_yen,
                "attachments": attachments}  # fmt: skip

    try:  # the transition locks the row and checks the state: no separate read before it
        return workflow.transition(actor=actor, application=application, action_name="submit", apply=apply)
    except DomainError as exc:
        if exc.code == "invalid_state":  # submitted already (a double click, another tab): that one stands
            again = Application.objects.get(pk=application.pk)
            if again.state == State.SUBMITTED:
                return again
        raise


def receipt(application: Application) -> dict[str, Any]:
    """The receipt shown on screen and sent by email: number, time, attachments with hashes."""
    return {
        "receipt_number": application.receipt_number,
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "submitted_at_text": (  # to the second, as the deadline is checked
            wareki_datetime(application.submitted_at, seconds=True) if application.submitted_at else None
        ),
        "program": application.program,
        "frame": application.frame,
        "round": application.round_id,
        "estimate_yen": application.estimate_yen,
        "attachments": [
            {"name": a.name, "size": a.size, "sha256": a.sha256, "content_type": a.content_type}
            for a in application.attachments.order_by("uploaded_at", "pk")
        ],
    }
