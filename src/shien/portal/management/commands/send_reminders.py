"""Send report reminders and overdue notices (cron-friendly: safe to run often, and twice).

python manage.py send_reminders                 # now
python manage.py send_reminders --at 2025-06-23T09:00+09:00
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shien.applications.reminders import send_due_reminders
from shien.rules import clock
from shien.rules.registry import JST
from shien.rules.text import wareki_datetime


class Command(BaseCommand):
    help = "実績報告・事業化状況報告・効果報告の期限のお知らせを送ります（何度実行しても重複しません）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--at", help="この日時として実行（ISO 8601。時差がなければ日本時間）")

    def handle(self, *args: Any, **options: Any) -> None:
        at = clock.now()
        if options.get("at"):
            try:
                at = datetime.fromisoformat(options["at"])
            except ValueError:
                raise CommandError(f"--at の日時が読めません: {options['at']}") from None
            if at.tzinfo is None:
                at = at.replace(tzinfo=JST)
        counts = send_due_reminders(at)
        self.stdout.write(
            f"{wareki_datetime(at)}: 対象の申請 {counts['applications']}件、"
            f"期限前のお知らせ {counts['reminders']}件、期限超過のお知らせ {counts['overdue']}件"
        )
