"""Publish a PDF summary of each round's rules, generated from the parameters (idempotent)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shien.programs.summaries import make_round_summaries
from shien.rules.demo import PRACTICE_ID
from shien.rules.registry import registry


class Command(BaseCommand):
    help = (
        "公募回ごとのルールの要約（PDF。shien が公開パラメータから作成し、公募要領ではないと明記）を"
        "公募回の資料として作成・更新します（何度実行しても重複しません）"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--program", action="append", default=[], help="この制度だけ（制度の id。複数指定できます）"
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="デモ（shien serve --demo の練習用の公募回がある場合）のときだけ作成する",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["demo"] and not any(
            r.id == PRACTICE_ID for p in registry().programs.values() for r in p.rounds
        ):
            self.stdout.write(
                "練習用の公募回がないため、公募回の要約は作りません（shien serve --demo で作成されます）"
            )
            return
        started = time.perf_counter()
        unknown = [p for p in options["program"] if p not in registry().programs]
        if unknown:
            raise CommandError(f"制度が見つかりません: {'、'.join(unknown)}")
        counts = make_round_summaries(options["program"])
        self.stdout.write(
            f"公募回の要約（PDF）: 新規 {counts['created']}件、更新 {counts['replaced']}件、"
            f"変更なし {counts['unchanged']}件（{time.perf_counter() - started:.1f}秒）"
        )
