"""Load demo data (idempotent): the bureau's news items about the programs of the seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from shien.programs.models import News
from shien.rules import clock
from shien.rules.registry import JST, registry

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
DEMO_STAFF = [  # (email, name, role, affiliation)
    ("shinsa@shien.example", "審査員（デモ）", "reviewer", "外部審査委員"),
    ("shokokai@shien.example", "経営指導員（デモ）", "advisor", "尾道商工会議所（デモ）"),
    ("kyoku@shien.example", "中国経済産業局（デモ）", "bureau", "中国経済産業局"),
]


def _demo_pdf() -> bytes:
    from shien.applications.files import minimal_pdf  # a real PDF: attachments are read with pypdf

    return minimal_pdf("shien demo document")


DEMO_PASSWORD = "shien-demo-2024"  # noqa: S105 (published demo credentials, demo mode only)


def demo_logins() -> str:
    """The demo's logins in one line (printed by `shien serve --demo` once it listens)."""
    accounts = [f"{DEMO_OWNER}（事業者）", f"{DEMO_SECRETARIAT}（事務局）"]
    labels = {"reviewer": "審査員", "advisor": "商工会議所の支援者", "bureau": "経済産業局"}
    accounts += [f"{email}（{labels[role]}）" for email, _, role, _ in DEMO_STAFF]
    return f"{' / '.join(accounts)}、パスワードはすべて {DEMO_PASSWORD}"


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
        self._round_summaries()

    def _round_summaries(self) -> None:
        """Each round's rules as a PDF (`make_round_summaries`), one task per program: the task worker
        makes them once the server runs, instead of the start waiting for them."""
        from shien.core.tasks import make_round_summaries
        from shien.programs.summaries import rounds_to_summarise
        from shien.rules.demo import PRACTICE_ID

        if not any(r.id == PRACTICE_ID for p in registry().programs.values() for r in p.rounds):
            return  # not the demo server (make_round_summaries --demo says the same)
        programs = sorted({program.id for program, _ in rounds_to_summarise()})
        for program in programs:
            make_round_summaries.enqueue(program)
        self.stdout.write(f"公募回の要約（PDF）: {len(programs)}制度分を作成します（タスクワーカーが作成）")

    def _accounts(self) -> None:
        """Demo logins (demo mode only): a business owner with a draft, and the secretariat."""
        from django.contrib.auth.hashers import make_password

        from shien.accounts.models import Role, User, UserRole
        from shien.accounts.services import organization_create

        hashed = make_password(DEMO_PASSWORD)  # once (it takes a good part of a second): one password for all

        def account(email: str, name: str) -> User:
            user = User.objects.create_user(email, None, name=name)
            user.password = hashed
            user.save(update_fields=["password"])
            return user

        owner = User.objects.filter(email=DEMO_OWNER).first()
        if owner is None:
            owner = account(DEMO_OWNER, "広島 太郎（デモ）")
            organization_create(
                actor=owner, name="広島精機株式会社（デモ）", prefecture="広島県", industry="製造業", employees=30,
                capital_yen=10_000_000, corporate_number="5835678256246",
            )  # fmt: skip
        staff = User.objects.filter(email=DEMO_SECRETARIAT).first()
        if staff is None:
            staff = account(DEMO_SECRETARIAT, "事務局（デモ）")
            UserRole.objects.create(user=staff, role=Role.SECRETARIAT)
        for email, name, role, affiliation in DEMO_STAFF:
            if not User.objects.filter(email=email).exists():
                member = account(email, name)
                UserRole.objects.create(user=member, role=role, affiliation=affiliation)
        self.stdout.write(f"デモのログイン: {demo_logins()}")
        self._applications(owner, staff)

    def _applications(self, owner: Any, staff: Any) -> None:
        """Applications at several stages in the practice rounds (`shien serve --demo` adds them), so the
        applicant, the advisor, the reviewer and the secretariat each have something to work on."""

        from shien.accounts.models import Membership, User
        from shien.accounts.services import advisor_consent_grant, organization_create
        from shien.applications import postaward, review, services, workflow
        from shien.applications.models import Application, RoundBudget
        from shien.rules.frames.base import rounds_at

        current = rounds_at(clock.now())
        keys = ("monozukuri/shoryokuka", "monozukuri/kofukakachi", "jizokuka/tsujo", "it_donyu/tsujo",
                "shoryokuka/catalog")  # fmt: skip
        if not all(current[k].accepting for k in keys):
            self.stdout.write(
                "受付中の公募回がないため、デモの申請は作りません（shien serve --demo で追加されます）"
            )
            return
        if Application.objects.filter(created_by=owner).exists():
            return
        seiki = Membership.objects.get(user=owner, kind=Membership.Kind.OWNER).organization
        shop = organization_create(
            actor=owner, name="尾道雑貨店（デモ）", prefecture="広島県", industry="小売業", employees=3,
            capital_yen=3_000_000,
        )  # fmt: skip
        advisor = User.objects.get(email="shokokai@shien.example")
        reviewer = User.objects.get(email="shinsa@shien.example")
        advisor_consent_grant(actor=owner, organization=shop, advisor=advisor)
        for key in keys:
            RoundBudget.objects.get_or_create(
                program=key.partition("/")[0],
                round_id=current[key].round.id,
                defaults={"budget_yen": 100_000_000, "updated_by": staff},
            )

        def create(org: Any, key: str, plan: dict[str, Any]) -> Application:
            program, _, frame = key.partition("/")
            app = services.application_create(actor=owner, organization=org, program=program, frame=frame,
                                              plan=plan)  # fmt: skip
            services.attachment_add(
                actor=owner, application=app, name="事業計画書.pdf", content=_demo_pdf() + key.encode()
            )
            return app

        # 1. ものづくり: a draft to finish (the live estimate updates as it is edited)
        create(seiki, "monozukuri/shoryokuka", {
            "purposes": ["labor_saving"], "expenses": [{"category": "machinery", "amount_yen": 30_000_000}],
            "commitments": {"planned_min_hourly_wage_yen": 1050, "value_added_cagr_pct": "3.0",
                            "payroll_cagr_pct": "1.5"}})  # fmt: skip
        # 2. 持続化: waiting for the 商工会議所's 様式4 (log in as the advisor to issue it)
        create(shop, "jizokuka/tsujo", {
            "purposes": ["sales_channel"], "expenses": [{"category": "advertising", "amount_yen": 600_000}],
            "commitments": {"planned_min_hourly_wage_yen": 1020}, "business": {"min_hourly_wage_yen": 980}})  # fmt: skip
        # 3. IT導入: submitted and under review, assigned to the demo reviewer
        it = create(seiki, "it_donyu/tsujo", {
            "purposes": ["it_tools"], "expenses": [{"category": "software", "amount_yen": 1_200_000, "processes": 2}]})  # fmt: skip
        it = services.application_submit(actor=owner, application=it)
        it = workflow.transition(actor=staff, application=it, action_name="start_review")
        review.review_assign(actor=staff, application=it, reviewer=reviewer)
        # 4. 省力化（カタログ型）: adopted, which is the grant decision; the results report is next
        catalog = create(seiki, "shoryokuka/catalog", {
            "purposes": ["labor_saving"], "business": {"labor_shortage": True},
            "expenses": [{"category": "catalog_product", "amount_yen": 4_000_000},
                         {"category": "installation", "amount_yen": 400_000}]})  # fmt: skip
        catalog = services.application_submit(actor=owner, application=catalog)
        catalog = workflow.transition(actor=staff, application=catalog, action_name="start_review")
        workflow.transition(actor=staff, application=catalog, action_name="adopt")
        # 5. ものづくり: paid, with yearly 事業化状況報告 ahead (see the follow-up page and the calendar)
        paid = create(seiki, "monozukuri/kofukakachi", {
            "purposes": ["high_value_product"], "expenses": [{"category": "machinery", "amount_yen": 10_000_000}],
            "commitments": {"planned_min_hourly_wage_yen": 1050, "value_added_cagr_pct": "3.0",
                            "payroll_cagr_pct": "1.5"}})  # fmt: skip
        paid = services.application_submit(actor=owner, application=paid)
        for action in ("start_review", "adopt"):
            paid = workflow.transition(actor=staff, application=paid, action_name=action)
        paid = workflow.transition(actor=owner, application=paid, action_name="request_grant")
        paid = postaward.grant_decide(actor=staff, application=paid, granted_yen=paid.estimate_yen or 0)
        proof = services.attachment_add(
            actor=owner, application=paid, name="領収書.pdf", content=_demo_pdf() + b"receipt"
        )
        paid = postaward.results_report(actor=owner, application=paid, lines=[
            {"category": "machinery", "description": "加工機 一式", "amount_yen": 10_000_000,
             "evidence_sha256": proof.sha256}])  # fmt: skip
        paid, _ = postaward.confirm_amount(
            actor=staff, application=paid, decisions={paid.expense_lines.get().pk: (True, "")}
        )
        postaward.record_payment(actor=staff, application=paid, paid_on=clock.today())
        self.stdout.write("デモの申請: 下書き・様式4待ち・審査中・交付決定・支払済みの5件")
