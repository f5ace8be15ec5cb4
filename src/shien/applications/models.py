"""E-applications: one row per application, its attachments, and per-round receipt counters.

The state only changes through `workflow.transition` (allowed moves, permission, audit); nothing
else writes `state`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from shien.accounts.models import Organization
from shien.applications.limits import length_limit


class State(models.TextChoices):
    DRAFT = "draft", "作成中"
    SUBMITTED = "submitted", "申請済み"
    RETURNED = "returned", "差戻し"
    UNDER_REVIEW = "under_review", "審査中"
    ADOPTED = "adopted", "採択"
    REJECTED = "rejected", "不採択"
    GRANT_REQUESTED = "grant_requested", "交付申請済み"
    GRANTED = "granted", "交付決定"
    RESULTS_REPORTED = "results_reported", "実績報告済み"
    CONFIRMED = "confirmed", "額の確定"
    PAID = "paid", "支払済み"
    WITHDRAWN = "withdrawn", "取下げ"


class Application(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="applications")
    program = models.CharField(max_length=50)
    frame = models.CharField(max_length=50)
    round_id = models.CharField(max_length=30)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    plan = models.JSONField("計画（経費・目的・約束）", default=dict)
    # the organization's facts as submitted: review, 確定検査 and follow-up judge what was applied for,
    # not facts the business edited later (a draft reads the organization's current facts)
    facts = models.JSONField("申請時の事業者の情報", default=dict, blank=True)
    estimate_yen = models.BigIntegerField("補助金額（試算）", null=True, blank=True)
    granted_yen = models.BigIntegerField("交付決定額", null=True, blank=True)
    confirmed_yen = models.BigIntegerField("確定額", null=True, blank=True)
    paid_on = models.DateField("支払日", null=True, blank=True)
    version = models.PositiveIntegerField(default=1, help_text="autosave: a stale version is refused")
    receipt_number = models.CharField("受付番号", max_length=40, unique=True, null=True, blank=True)
    submitted_at = models.DateTimeField("申請日時", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "申請"
        indexes = [models.Index(fields=["program", "round_id", "state"])]

    def __str__(self) -> str:
        return self.receipt_number or f"下書き {self.pk}"

    @property
    def frame_key(self) -> str:
        return f"{self.program}/{self.frame}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.application_id}/{instance.sha256}"


class Attachment(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField("ファイル名", max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "sha256"], name="unique_attachment_content")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:12]})"


class ReceiptCounter(models.Model):
    """The last receipt number issued in a round (incremented under a row lock)."""

    program = models.CharField(max_length=50)
    round_id = models.CharField(max_length=30)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "round_id"], name="unique_receipt_counter")]

    def __str__(self) -> str:
        return f"{self.program}/{self.round_id}: {self.last}"


class ReviewAssignment(models.Model):
    """A reviewer assigned to an application: conflict declaration, then scores against the rubric."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)
    conflict = models.BooleanField("利益相反", null=True, help_text="None: not declared yet")
    conflict_reason = models.TextField(blank=True)
    scores = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "reviewer"], name="unique_review"),
            length_limit("conflict_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} → {self.application}"


class ExpenseLine(models.Model):
    """One line of the 実績報告 ledger, with its evidence; the inspection accepts or rejects it."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="expense_lines")
    category = models.CharField(max_length=30)
    description = models.CharField("内容", max_length=200)
    amount_yen = models.BigIntegerField("金額（税抜・円）")
    evidence = models.ForeignKey(Attachment, on_delete=models.PROTECT, related_name="+")
    accepted = models.BooleanField("確定検査", null=True)
    inspection_note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.description} {self.amount_yen:,}円"


class Form4Issue(models.Model):
    """持続化補助金: the 事業支援計画書（様式4） issued by a 商工会・商工会議所 advisor."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="form4")
    advisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    comment = models.TextField("支援内容", blank=True)

    class Meta:
        constraints = [length_limit("comment")]

    def __str__(self) -> str:
        return f"様式4 {self.application}"


class FollowUpReport(models.Model):
    """事業化状況報告: one per year after payment, checked against the commitments automatically."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="followups")
    year = models.PositiveSmallIntegerField("報告年（1〜）")
    fiscal_year_end = models.DateField("事業年度末")
    operating_profit_yen = models.BigIntegerField("営業利益")
    personnel_yen = models.BigIntegerField("人件費")
    depreciation_yen = models.BigIntegerField("減価償却費")
    payroll_total_yen = models.BigIntegerField("給与支給総額")
    min_wage_yen = models.PositiveIntegerField("事業場内最低賃金")
    employees = models.PositiveIntegerField("従業員数", null=True, blank=True)
    sales_yen = models.BigIntegerField("売上高", null=True, blank=True)
    checks = models.JSONField(default=list)
    refund_yen = models.BigIntegerField("返還額", default=0)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "year"], name="one_report_per_year")]

    def __str__(self) -> str:
        return f"{self.application} {self.year}年目"

    @property
    def value_added_yen(self) -> int:
        return self.operating_profit_yen + self.personnel_yen + self.depreciation_yen


class ChangeRequest(models.Model):
    """計画変更: the applicant asks to change the plan of a granted project; the secretariat decides.

    The request has its own small state machine (pending → approved | rejected | withdrawn); an
    approved request replaces the application's plan, and the granted amount never rises."""

    class Status(models.TextChoices):
        PENDING = "pending", "審査中"
        APPROVED = "approved", "承認"
        REJECTED = "rejected", "不承認"
        WITHDRAWN = "withdrawn", "取下げ"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="change_requests")
    plan = models.JSONField("変更後の計画")
    reason = models.TextField("変更の理由")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    estimate_yen = models.BigIntegerField("変更後の補助金額（試算）", null=True, blank=True)

    class Meta:
        verbose_name = "計画変更"
        constraints = [
            models.UniqueConstraint(
                fields=["application"], condition=models.Q(status="pending"), name="one_pending_change"
            ),
            length_limit("reason"),
            length_limit("decision_note"),
        ]

    def __str__(self) -> str:
        return f"計画変更 {self.application} ({self.get_status_display()})"


class RoundBudget(models.Model):
    """The budget of one round (公募回), set by the secretariat: adoption and grants are weighed against it."""

    program = models.CharField(max_length=50)
    round_id = models.CharField(max_length=30)
    budget_yen = models.BigIntegerField("予算額（円）")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "公募回の予算"
        constraints = [
            models.UniqueConstraint(fields=["program", "round_id"], name="unique_round_budget"),
            models.CheckConstraint(condition=models.Q(budget_yen__gte=0), name="round_budget_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.program}/{self.round_id}: {self.budget_yen:,}円"
