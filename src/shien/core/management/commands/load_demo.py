"""Load demo data (idempotent): the bureau's news items about the programs of the seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from shien.programs.models import News
from shien.rules.registry import JST

NEWS = [
    ("briefing-r6", "", "令和6年度 経済産業省支援事業のご紹介（説明資料）を掲載しました", "2024-03-18T10:00"),
    (
        "monozukuri-18",
        "monozukuri",
        "ものづくり補助金 18次公募（全枠）の申請受付を開始しました",
        "2024-03-11T17:00",
    ),
    (
        "jizokuka-15",
        "jizokuka",
        "持続化補助金 第15回公募の申請受付を開始しました（締切 3月14日）",
        "2024-02-09T09:00",
    ),
    ("it-2024", "it_donyu", "IT導入補助金2024 交付申請の受付を開始しました", "2024-02-16T10:00"),
    (
        "shoryokuka-catalog",
        "shoryokuka",
        "中小企業省力化投資補助事業（カタログ型）の製品カテゴリを公表しました",
        "2024-03-29T10:00",
    ),
    (
        "amoeba-join",
        "digital_amoeba",
        "デジタルアメーバの会員を募集しています（会費無料）",
        "2024-03-18T10:00",
    ),
]


DEMO_OWNER = "demo@shien.example"
DEMO_SECRETARIAT = "jimukyoku@shien.example"
DEMO_PASSWORD = "shien-demo-2024"  # noqa: S105 (published demo credentials, demo mode only)


class Command(BaseCommand):
    help = "デモデータを読み込みます（何度実行しても重複しません）"

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        created = 0
        for slug, program, title, at in NEWS:
            _, was_created = News.objects.update_or_create(
                slug=slug,
                defaults={
                    "program": program,
                    "title": title,
                    "published_at": datetime.fromisoformat(at).replace(tzinfo=JST),
                },
            )
            created += was_created
        self.stdout.write(f"デモデータ: お知らせ {len(NEWS)}件（新規 {created}件）")
        self._accounts()

    def _accounts(self) -> None:
        """Demo logins (demo mode only): a business owner with a draft, and the secretariat."""
        from shien.accounts.models import Role, User, UserRole
        from shien.accounts.services import organization_create

        owner = User.objects.filter(email=DEMO_OWNER).first()
        if owner is None:
            owner = User.objects.create_user(DEMO_OWNER, DEMO_PASSWORD, name="広島 太郎（デモ）")
            organization_create(
                actor=owner, name="広島精機株式会社（デモ）", prefecture="広島県", industry="製造業", employees=30,
                capital_yen=10_000_000, corporate_number="5835678256246",
            )  # fmt: skip
        staff = User.objects.filter(email=DEMO_SECRETARIAT).first()
        if staff is None:
            staff = User.objects.create_user(DEMO_SECRETARIAT, DEMO_PASSWORD, name="事務局（デモ）")
            UserRole.objects.create(user=staff, role=Role.SECRETARIAT)
        self.stdout.write(f"デモのログイン: {DEMO_OWNER} / {DEMO_SECRETARIAT}（パスワード {DEMO_PASSWORD}）")
