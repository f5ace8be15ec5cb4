"""Send the emails still pending in the outbox (a failed send, a task worker that was not running or
was stopped first). The task worker (`db_worker`, started by `shien serve`) sends each email after
its commit; this command is the cron fallback.

python manage.py deliver_mail                  # rows older than a minute
python manage.py deliver_mail --older-than 0   # every pending row now

Safe to run from cron every few minutes, and twice at once: a row is locked while it is sent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shien.core.notifications import MAX_EMAIL_ATTEMPTS, deliver_pending


class Command(BaseCommand):
    help = f"送信できていないお知らせメールを送ります（1通につき最大{MAX_EMAIL_ATTEMPTS}回まで試します）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", type=int, default=60, help="この秒数より前に作られたものだけ（既定60）"
        )
        parser.add_argument("--limit", type=int, default=1000, help="1回に送る上限（既定1000）")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = deliver_pending(
            older_than=timedelta(seconds=max(0, options["older_than"])), limit=options["limit"]
        )
        self.stdout.write(
            f"未送信のメール {counts['tried']}通: 送信 {counts['sent']}通、失敗 {counts['failed']}通"
        )
        if counts["failed"]:
            self.stderr.write(
                "送信に失敗したメールは次回また試します（メールサーバーの設定を確認してください）"
            )
