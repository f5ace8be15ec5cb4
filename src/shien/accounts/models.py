"""People, organizations (事業者) and who may act for whom.

A user logs in with an email address. Business users belong to organizations through memberships;
staff users hold roles (advisor, vendor, reviewer, secretariat, bureau). An advisor acts for an
organization only while the organization's recorded consent is in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from shien.rules.vocab import INDUSTRIES, PREFECTURES


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("メールアドレスは必須です")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("メールアドレス", unique=True)
    name = models.CharField("氏名", max_length=100, blank=True)
    is_active = models.BooleanField("有効", default=True)
    is_staff = models.BooleanField("管理サイト", default=False)
    date_joined = models.DateTimeField("登録日時", default=timezone.now)
    # login refused until then after 5 wrong two-factor codes (wrong passwords: django-axes)
    locked_until = models.DateTimeField(null=True, blank=True)
    # advanced when two-factor login is turned on or off: part of the session hash, so the user's
    # other sessions end (0: Django's own hash, so existing sessions stay valid)
    session_epoch = models.PositiveIntegerField(default=0)

    objects = UserManager()
    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = "利用者"

    def __str__(self) -> str:
        return self.name or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        if not self.session_epoch:
            return super()._get_session_auth_hash(secret=secret)  # type: ignore[misc]
        key_salt = "shien.accounts.models.User.session_epoch"
        value = f"{self.password}\x00{self.session_epoch}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()

    def role_names(self) -> frozenset[str]:
        """The user's roles, read once per user object (one request's user: one query)."""
        cached: frozenset[str] | None = getattr(self, "_role_names", None)
        if cached is None:
            cached = frozenset(self.roles.values_list("role", flat=True)) if self.pk else frozenset()
            self._role_names = cached
        return cached

    def has_role(self, role: str) -> bool:
        return role in self.role_names()

    def has_any_role(self, roles: Iterable[str]) -> bool:
        return not self.role_names().isdisjoint(roles)

    def refresh_from_db(self, *args: object, **kwargs: object) -> None:
        self.__dict__.pop("_role_names", None)
        super().refresh_from_db(*args, **kwargs)  # type: ignore[arg-type]


class Role(models.TextChoices):
    ADVISOR = "advisor", "支援者（商工会・商工会議所・認定支援機関）"
    VENDOR = "vendor", "販売事業者・IT導入支援事業者"
    REVIEWER = "reviewer", "審査員"
    SECRETARIAT = "secretariat", "事務局"
    BUREAU = "bureau", "経済産業局"


class UserRole(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=20, choices=Role.choices)
    affiliation = models.CharField("所属", max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="unique_user_role")]

    def __str__(self) -> str:
        return f"{self.user} {self.get_role_display()}"


class Organization(models.Model):
    """A business (事業者): the facts the rules engine uses, kept with the organization."""

    name = models.CharField("名称", max_length=200)
    corporate_number = models.CharField("法人番号", max_length=13, blank=True, help_text="13桁")
    invoice_number = models.CharField("インボイス登録番号", max_length=14, blank=True, help_text="T＋13桁")
    prefecture = models.CharField("所在地", max_length=4, choices=[(p, p) for p in PREFECTURES])
    industry = models.CharField("業種", max_length=20, choices=[(i, i) for i in INDUSTRIES])
    capital_yen = models.BigIntegerField("資本金（円）", null=True, blank=True)
    employees = models.PositiveIntegerField("常時使用する従業員数")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "事業者"
        constraints = [
            models.UniqueConstraint(
                fields=["corporate_number"],
                condition=~models.Q(corporate_number=""),
                name="unique_corporate_number",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Kind(models.TextChoices):
        OWNER = "owner", "代表者"
        MEMBER = "member", "担当者"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class Invitation(models.Model):
    """The 代表者 invites someone by email to become a member; the membership exists only once the
    person with that email accepts (nobody is made a member, or told who holds an address, unasked)."""

    class Status(models.TextChoices):
        PENDING = "pending", "回答待ち"
        ACCEPTED = "accepted", "承諾"
        DECLINED = "declined", "辞退"
        CANCELLED = "cancelled", "取消し"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("招待したメールアドレス")
    kind = models.CharField(max_length=10, choices=Membership.Kind.choices, default=Membership.Kind.MEMBER)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "メンバーへの招待"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(status="pending"),
                name="one_pending_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization}"


class AdvisorConsent(models.Model):
    """The organization's recorded consent for an advisor to act for it (until revoked)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="advisor_consents")
    advisor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="advisor_consents")
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "advisor"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_active_consent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.advisor} → {self.organization}"


class ExternalIdentity(models.Model):
    """A login through an external OpenID Connect provider (e.g. GビズID): issuer + subject → user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "外部ID連携"
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject} → {self.user}"


class MailRequest(models.Model):
    """One request that makes shien mail an address the requester typed (sign-up, password reset,
    invitation), kept for the limits of `accounts.mail_throttle` and pruned after
    `MAIL_REQUEST_RETENTION` seconds. The address is kept only as a keyed hash (`target`)."""

    class Kind(models.TextChoices):
        SIGNUP = "signup", "利用登録"
        PASSWORD_RESET = "password_reset", "パスワード再設定"
        INVITATION = "invitation", "メンバーへの招待"

    class Outcome(models.TextChoices):
        SENT = "sent", "送信"  # the mail was queued (or, for an unknown address, the same answer)
        SUPPRESSED = "suppressed", "送信せず（宛先の上限）"  # answered as sent; no mail
        REFUSED = "refused", "拒否（接続元の上限）"  # 429; one row per client and window, `count` refusals

    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.CharField(max_length=64, blank=True)  # HMAC-SHA256 of the address (hex)
    client = models.CharField(max_length=64, blank=True)  # the client's IP address, or "user:<id>"
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "メール送信の申込み"
        indexes = [
            models.Index(fields=["kind", "target", "created_at"], name="mailrequest_target"),
            models.Index(fields=["client", "created_at"], name="mailrequest_client"),
            models.Index(fields=["created_at"], name="mailrequest_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} {self.created_at:%Y-%m-%d %H:%M}"
