"""The organization page: facts, members (代表者・担当者), advisors with consent, and its applications.

Each view reaches the organization through `organization_get` (members, consented advisors and staff;
anyone else gets 404) and each change through `members` / `services`, which check the role again.
A refused change shows the page again with the Japanese reason and what was typed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from shien.accounts import members, sections
from shien.accounts.forms import FIELD_OF, OrganizationForm
from shien.accounts.models import AdvisorConsent, Invitation, Membership, Organization, Role, User, UserRole
from shien.accounts.selectors import STAFF_ROLES, organization_get, request_user
from shien.accounts.services import advisor_consent_grant, advisor_consent_revoke
from shien.core.errors import DomainError, http_status
from shien.rules.registry import registry


def _organization(request: HttpRequest, pk: int) -> Organization:
    """The organization, if the user may see it; the same 404 page (`not_found`) whether absent or not."""
    return organization_get(request_user(request), pk)


def _context(request: HttpRequest, org: Organization, **extra: Any) -> dict[str, Any]:
    user = request_user(request)
    mine = members.membership_of(user, org)
    own_consent = mine is None and org.advisor_consents.filter(advisor=user, revoked_at__isnull=True).exists()
    # staff who are neither member nor advisor of it see it through its submitted applications: the
    # facts the office works with, who the members and advisors are (conflicts of interest), but no
    # email address or pending invitation (the office reaches the applicant through shien's notices)
    staff = mine is None and not own_consent and user.has_any_role(STAFF_ROLES)
    consents = members.consents_of(org)
    if mine is None and not staff:  # an advisor: only its own consent, and no member's contact details
        consents = [c for c in consents if c.advisor_id == user.pk]
    affiliations = dict(
        UserRole.objects.filter(user__in=[c.advisor_id for c in consents], role=Role.ADVISOR).values_list(
            "user_id", "affiliation"
        )
    )
    memberships = list(
        Membership.objects.filter(organization=org).select_related("user").order_by("kind", "user__email")
    )
    owners = [m for m in memberships if m.kind == Membership.Kind.OWNER]
    return {
        "org": org,
        "membership": mine,
        "is_owner": mine is not None and mine.kind == Membership.Kind.OWNER,
        "acting_advisor": mine is None and not staff,
        "staff_view": staff,
        "may_see_members": mine is not None or staff,
        "may_see_contacts": mine is not None,
        "memberships": memberships,
        "sole_owner_id": owners[0].pk if len(owners) == 1 else None,  # offered no way out
        "consents": [(c, affiliations.get(c.advisor_id, "")) for c in consents],
        **sections.context_for(user, org),  # the business's applications (registered by applications)
        "member_kinds": Membership.Kind.choices,
        "invitations": list(org.invitations.filter(status=Invitation.Status.PENDING).order_by("created_at"))
        if mine is not None
        else [],
        "frame_names": {
            f"{p.id}/{f.id}": f"{p.short_name} {f.name}"
            for p in registry().programs.values()
            for f in p.frames.values()
        },
        **extra,
    }


def _confirm(request: HttpRequest, org: Organization, message: str, button: str) -> HttpResponse | None:
    """Removing someone or ending a consent asks once more (without JavaScript): the first POST shows
    the question with a form that posts again with confirm=1."""
    if request.POST.get("confirm") == "1":
        return None
    confirming = {"action": request.path, "message": message, "button": f"はい、{button}"}
    return render(request, "accounts/organization_detail.html", _context(request, org, confirming=confirming))


def _refused(request: HttpRequest, org: Organization, exc: DomainError, **typed: Any) -> HttpResponse:
    """The organization's page again, with the message and the address as it was typed."""
    context = _context(request, org, problems=[exc.message], **typed)
    return render(request, "accounts/organization_detail.html", context, status=http_status(exc))


@login_required
def organization_detail(request: HttpRequest, pk: int) -> HttpResponse:
    org = _organization(request, pk)
    return render(request, "accounts/organization_detail.html", _context(request, org))


@login_required
def organization_edit(request: HttpRequest, pk: int) -> HttpResponse:
    org = _organization(request, pk)
    user = request_user(request)
    if members.membership_of(user, org) is None:
        raise DomainError("forbidden", "事業者の情報を変更できるのは、その事業者の代表者・担当者です")
    initial = {field: getattr(org, field) for field in members.FACTS}
    form = OrganizationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            members.organization_update(actor=user, organization=org, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(FIELD_OF.get(exc.code), exc.message)
        else:
            messages.success(request, "事業者の情報を保存しました")
            return redirect("organization-detail", org.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/organization_form.html", {"form": form, "org": org}, status=status)


@login_required
@require_POST
def member_invite(request: HttpRequest, pk: int) -> HttpResponse:
    org = _organization(request, pk)
    email, kind = request.POST.get("email", "")[:254], request.POST.get("kind", Membership.Kind.MEMBER)
    try:
        invitation, created = members.member_invite(
            actor=request_user(request), organization=org, email=email, kind=kind
        )
    except DomainError as exc:
        return _refused(request, org, exc, typed_member_email=email, typed_member_kind=kind)
    # the address as typed, never the name of an account: the owner learns nothing about who holds it
    messages.success(request, f"{invitation.email} に{invitation.get_kind_display()}としての招待を送りました。"
                     "相手がマイページで承諾するとメンバーになります" if created
                     else f"{invitation.email} への招待は回答待ちです")  # fmt: skip
    return redirect("organization-detail", org.pk)


@login_required
@require_POST
def member_kind(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    org = _organization(request, pk)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_pk, organization=org
    )
    changed = members.member_set_kind(
        actor=request_user(request), membership=membership, kind=request.POST.get("kind", "")
    )
    who = membership.user.name or membership.user.email
    messages.success(request, f"{who} さんの役割を{changed.get_kind_display()}にしました")
    return redirect("organization-detail", org.pk)


@login_required
@require_POST
def invitation_cancel(request: HttpRequest, pk: int, invitation_pk: int) -> HttpResponse:
    org = _organization(request, pk)
    invitation = get_object_or_404(Invitation, pk=invitation_pk, organization=org)
    members.invitation_cancel(actor=request_user(request), invitation=invitation)
    messages.success(request, f"{invitation.email} への招待を取り消しました")
    return redirect("organization-detail", org.pk)


@login_required
@require_POST
def invitation_answer(request: HttpRequest, invitation_pk: int) -> HttpResponse:
    """The invited person's 承諾 or 辞退, from マイページ (only invitations to their own address)."""
    user = request_user(request)
    invitation = members.invitations_for(user).filter(pk=invitation_pk).first()
    if invitation is None:
        messages.info(request, "この招待にはすでに回答済みか、取り消されています")
        return redirect("mypage")
    accept = request.POST.get("answer") == "accept"
    try:
        membership = members.invitation_answer(actor=user, invitation=invitation, accept=accept)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("mypage")
    if membership is None:
        messages.success(request, f"{invitation.organization.name} からの招待を辞退しました")
        return redirect("mypage")
    messages.success(request, f"{invitation.organization.name} の{membership.get_kind_display()}になりました")
    return redirect("organization-detail", invitation.organization_id)


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    org = _organization(request, pk)
    user = request_user(request)
    membership = Membership.objects.filter(pk=membership_pk, organization=org).select_related("user").first()
    if membership is None:  # removed already (a double click), or not of this organization
        messages.info(request, "このメンバーはすでに削除されています")
        return redirect("organization-detail", org.pk)
    myself = membership.user_id == user.pk
    if not myself and not members.is_owner(user, org):  # before the question names anybody
        raise DomainError("forbidden", "メンバーの削除は事業者の代表者が行います")
    who = membership.user.name or membership.user.email
    asked = _confirm(
        request,
        org,
        f"{org.name} のメンバーから外れますか？"
        if myself
        else f"{who} さんを {org.name} のメンバーから削除しますか？",
        "メンバーから外れる" if myself else "削除する",
    )
    if asked is not None:
        return asked
    members.member_remove(actor=user, membership=membership)
    if myself:
        messages.success(request, f"{org.name} のメンバーから外れました")
        return redirect("mypage")
    messages.success(request, f"{who} さんをメンバーから削除しました")
    return redirect("organization-detail", org.pk)


@login_required
@require_POST
def consent_grant(request: HttpRequest, pk: int) -> HttpResponse:
    org = _organization(request, pk)
    email = request.POST.get("email", "")[:254]
    if not members.is_owner(request_user(request), org):  # before looking anybody up
        raise DomainError("forbidden", "支援者への同意は事業者の代表者が行います")
    advisor = User.objects.filter(email=email.strip().lower(), is_active=True).first()
    try:
        if not email.strip():
            raise DomainError("invalid_input", "支援者のメールアドレスを入力してください")
        if advisor is None or not advisor.has_role(Role.ADVISOR):
            raise DomainError(
                "invalid_input",
                "このメールアドレスの支援者（商工会・商工会議所・認定支援機関）が見つかりません。支援者に登録済みのアドレスを確かめてください",
            )
        advisor_consent_grant(actor=request_user(request), organization=org, advisor=advisor)
    except DomainError as exc:
        return _refused(request, org, exc, typed_advisor_email=email)
    messages.success(
        request, f"{advisor.name or advisor.email} さんが代わりに申請・報告できるよう同意しました"
    )
    return redirect("organization-detail", org.pk)


@login_required
@require_POST
def consent_revoke(request: HttpRequest, pk: int, consent_pk: int) -> HttpResponse:
    org = _organization(request, pk)
    consent = get_object_or_404(
        AdvisorConsent.objects.select_related("advisor"), pk=consent_pk, organization=org
    )
    user = request_user(request)
    own = consent.advisor_id == user.pk
    if not own and not members.is_owner(user, org):  # before the question names anybody
        raise DomainError("forbidden", "同意の取消しは事業者の代表者が行います")
    who = consent.advisor.name or consent.advisor.email
    if consent.revoked_at is None:
        asked = _confirm(
            request,
            org,
            f"{org.name} の代理をやめますか？この事業者の申請を操作できなくなります。"
            if own
            else f"{who} さんへの同意を取り消しますか？取り消すと、この事業者の申請を操作できなくなります。",
            "代理をやめる" if own else "同意を取り消す",
        )
        if asked is not None:
            return asked
    advisor_consent_revoke(actor=user, consent=consent)
    if own:
        messages.success(request, f"{org.name} の代理をやめました")
        return redirect("mypage")
    messages.success(request, f"{who} さんへの同意を取り消しました")
    return redirect("organization-detail", org.pk)
