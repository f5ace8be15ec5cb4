"""The back office (事務局・経済産業局・審査員): who may enter, queues and search, exports, the figures of
a round, the adoption preview, and the one write the other services do not cover (a round's budget).

Staff (secretariat, bureau) see every application submitted at least once, never a draft; reviewers
see only those assigned to them and not declared in conflict. Everything is reached through
`office_applications`, so a forbidden application is the same 404 as a missing one.
"""

from __future__ import annotations

import csv
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from math import floor
from typing import IO, Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.http import QueryDict

from shien.accounts.models import AdvisorConsent, Membership, Role, User
from shien.applications import review, workflow
from shien.applications.models import Application, ChangeRequest, ReviewAssignment, RoundBudget, State
from shien.applications.selectors import applications_for
from shien.core.errors import DomainError
from shien.core.models import AuditLog
from shien.core.services import audit_record
from shien.rules.registry import JST, registry
from shien.rules.text import wareki_datetime, yen
from shien.rules.vocab import MAX_YEN

STAFF = (Role.SECRETARIAT, Role.BUREAU)
OFFICE_ROLES = (Role.SECRETARIAT, Role.BUREAU, Role.REVIEWER)
# the states an application passes through once adopted (a withdrawal afterwards is not counted)
ADOPTED_STATES = (
    State.ADOPTED,
    State.GRANT_REQUESTED,
    State.GRANTED,
    State.RESULTS_REPORTED,
    State.CONFIRMED,
    State.PAID,
)
GRANTED_STATES = (State.GRANTED, State.RESULTS_REPORTED, State.CONFIRMED, State.PAID)
PENDING_GRANT_STATES = (State.ADOPTED, State.GRANT_REQUESTED)  # adopted, grant not decided yet
QUEUE_STATES = tuple(s for s in State if s != State.DRAFT)  # a draft never reaches the office
PAGE_SIZE = 50
SORTS = {"submitted_at": ("submitted_at", "pk"), "-submitted_at": ("-submitted_at", "-pk")}


def roles_of(user: User) -> set[str]:
    return set(user.roles.values_list("role", flat=True)) if user.is_authenticated else set()


def office_applications(user: User) -> QuerySet[Application]:
    """Applications this user may open in the back office (see the module's docstring)."""
    roles = roles_of(user)
    visible = applications_for(user)
    if roles & set(STAFF):
        return visible.filter(submitted_at__isnull=False)
    if Role.REVIEWER in roles:
        mine = ReviewAssignment.objects.filter(reviewer=user).exclude(conflict=True)
        return visible.filter(pk__in=mine.values("application_id"))
    return Application.objects.none()


def office_application_get(user: User, application_id: int) -> Application:
    application = office_applications(user).select_related("organization").filter(pk=application_id).first()
    if application is None:
        raise DomainError("not_found", "申請が見つかりません")
    return application


def my_assignment_get(user: User, assignment_id: int) -> ReviewAssignment:
    """The reviewer's own assignment, unless declared in conflict (then: not found, like any other)."""
    assignment = (
        ReviewAssignment.objects.select_related("application__organization")
        .filter(pk=assignment_id, reviewer=user)
        .exclude(conflict=True)
        .first()
    )
    if assignment is None or not office_applications(user).filter(pk=assignment.application_id).exists():
        raise DomainError("not_found", "割り当てられた審査が見つかりません")
    return assignment


def my_assignments(user: User) -> QuerySet[ReviewAssignment]:
    return (
        ReviewAssignment.objects.filter(reviewer=user)
        .exclude(conflict=True)
        .select_related("application__organization")
        .order_by("-assigned_at", "-pk")
    )


# -- names ------------------------------------------------------------------------------------------------


def program_name(program: str) -> str:
    found = registry().programs.get(program)
    return found.short_name if found else program


def frame_name(program: str, frame: str) -> str:
    found = registry().programs.get(program)
    return found.frames[frame].name if found and frame in found.frames else frame


def round_name(program: str, round_id: str) -> str:
    window = registry().round(program, round_id)
    return window.name if window else f"{round_id}"


def rounds_in_office() -> list[dict[str, str]]:
    """Every (program, round) with at least one submitted application, for filters and dashboards."""
    pairs = (
        Application.objects.filter(submitted_at__isnull=False)
        .values_list("program", "round_id")
        .distinct()
        .order_by("program", "round_id")
    )
    return [{"program": p, "round": r, "label": f"{program_name(p)} {round_name(p, r)}"} for p, r in pairs]


def programs_in_office() -> list[tuple[str, str]]:
    return sorted({(r["program"], program_name(r["program"])) for r in rounds_in_office()})


# -- queues and search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    state: str = ""
    program: str = ""
    round: str = ""
    q: str = ""
    sort: str = "-submitted_at"

    @classmethod
    def from_query(cls, query: QueryDict) -> Filters:
        state = query.get("state", "")
        sort = query.get("sort", "")
        return cls(
            state=state if state in QUEUE_STATES else "",
            program=query.get("program", "").strip()[:50],
            round=query.get("round", "").strip()[:30],
            q=query.get("q", "").strip()[:100],
            sort=sort if sort in SORTS else "-submitted_at",
        )

    def query(self, **overrides: str) -> str:
        """The filter as a query string (empty values left out), with some values replaced."""
        values = {**self.__dict__, **overrides}
        if values.get("sort") == "-submitted_at":
            values.pop("sort")
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if value:
                query[key] = value
        return query.urlencode()

    def without_state(self) -> Filters:
        return replace(self, state="")


def _search_text(q: str) -> Q:
    text = unicodedata.normalize("NFKC", q).strip()
    condition = Q(receipt_number__icontains=text) | Q(organization__name__icontains=text)
    digits = text.replace("-", "").replace(" ", "")
    if digits.isdigit():
        condition |= Q(organization__corporate_number__startswith=digits)
    return condition


def search(user: User, filters: Filters) -> QuerySet[Application]:
    found = office_applications(user)
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.program:
        found = found.filter(program=filters.program)
    if filters.round:
        found = found.filter(round_id=filters.round)
    if filters.q:
        found = found.filter(_search_text(filters.q))
    return found.select_related("organization").order_by(*SORTS[filters.sort])


def state_counts(user: User, filters: Filters) -> list[dict[str, Any]]:
    """Applications per state (every state of the office, zeros included) under the other filters."""
    counted = dict(
        search(user, filters.without_state())
        .order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    return [{"state": s.value, "label": s.label, "count": counted.get(s.value, 0)} for s in QUEUE_STATES]


# -- exports --------------------------------------------------------------------------------------------------

EXPORT_HEADER = ["受付番号", "事業者", "法人番号", "制度", "枠", "公募回", "状態", "申請日時", "申請日時（和暦）",
                 "補助金額（試算）", "交付決定額", "確定額", "支払日"]  # fmt: skip
EXPORT_FIELDS = ("receipt_number", "organization__name", "organization__corporate_number", "program", "frame",
                 "round_id", "state", "submitted_at", "estimate_yen", "granted_yen", "confirmed_yen", "paid_on")  # fmt: skip


def export_time(at: datetime | None) -> str:
    """申請日時 in the exports: ISO 8601 in JST to the second (2026-11-24T11:13:37+09:00)."""
    return at.astimezone(JST).replace(microsecond=0).isoformat() if at else ""


def export_rows(user: User, filters: Filters) -> Iterator[list[Any]]:
    """One row per application of the filter (yen as integers, names from the rules registry, times
    as ISO 8601 in JST), read in chunks; the names are looked up once per program, frame and round."""
    labels = dict(State.choices)
    names: dict[tuple[str, str], tuple[str, str]] = {}
    rounds: dict[tuple[str, str], str] = {}
    rows = search(user, filters).values_list(*EXPORT_FIELDS)
    for (
        number,
        org,
        corporate,
        program,
        frame,
        round_id,
        state,
        at,
        est,
        granted,
        confirmed,
        paid,
    ) in rows.iterator(chunk_size=2000):
        key = (program, frame)
        if key not in names:
            names[key] = (program_name(program), frame_name(program, frame))
        if (program, round_id) not in rounds:
            rounds[(program, round_id)] = round_name(program, round_id)
        yield [number, org, corporate, names[key][0], names[key][1], rounds[(program, round_id)],
               labels.get(state, state), export_time(at), wareki_datetime(at) if at else "",
               est, granted, confirmed, paid]  # fmt: skip


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def _csv_safe(value: Any) -> Any:
    """An applicant's text that looks like a formula is written with a leading apostrophe (as OWASP
    recommends), so that opening the export never runs it."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv(user: User, filters: Filters) -> Iterator[str]:
    """CSV lines, the first with a BOM so that Excel opens UTF-8 as Japanese."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_HEADER)
    for row in export_rows(user, filters):
        row[12] = row[12].isoformat() if row[12] else ""
        yield writer.writerow([_csv_safe(value) for value in row])


def export_xlsx(user: User, filters: Filters) -> IO[bytes]:
    """The same columns as an Excel workbook (write-only: rows are not kept in memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("申請一覧")
    widths = (24, 30, 16, 20, 30, 30, 14, 26, 34, 16, 16, 16, 12)
    for index, width in enumerate(widths):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in EXPORT_HEADER:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in export_rows(user, filters):
        if any(isinstance(v, str) and v.startswith("=") for v in row):
            row = [_text_cell(sheet, v) if isinstance(v, str) else v for v in row]  # never a formula
        sheet.append(row)
    out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response that streams it)
    book.save(out)
    out.seek(0)
    return out


def _text_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


# -- the figures of a round -------------------------------------------------------------------------------


def round_known(program: str, round_id: str) -> bool:
    found = registry().programs.get(program)
    if found is None:
        return False
    return (
        found.round(round_id) is not None
        or Application.objects.filter(program=program, round_id=round_id).exists()
    )


@dataclass
class Ranked:
    application: Application
    average: Fraction
    reviews: int
    adopt: bool = False  # within the budget in the adoption preview
    related: int = 0  # scores left out: their reviewer is now related to the applicant

    @property
    def average_text(self) -> str:
        """The exact average, floored to two decimals (28 / 3 → 9.33)."""
        hundredths = floor(self.average * 100)
        return f"{hundredths // 100}.{hundredths % 100:02d}"


@dataclass
class RoundFigures:
    program: str
    round_id: str
    program_name: str
    round_name: str
    by_state: list[dict[str, Any]]
    submitted: int
    adopted: int
    granted_yen: int
    pending_yen: int
    budget: RoundBudget | None
    ranking: list[Ranked] = field(default_factory=list)

    @property
    def adoption_rate(self) -> Fraction | None:
        return Fraction(self.adopted, self.submitted) if self.submitted else None

    @property
    def adoption_rate_text(self) -> str:
        """Percent floored to one decimal after exact arithmetic (2 / 3 → 66.6%)."""
        rate = self.adoption_rate
        if rate is None:
            return "—"
        tenths = floor(rate * 1000)
        return f"{tenths // 10}.{tenths % 10}%"

    @property
    def committed_yen(self) -> int:
        return self.granted_yen + self.pending_yen

    @property
    def remaining_yen(self) -> int | None:
        return None if self.budget is None else self.budget.budget_yen - self.committed_yen

    @property
    def over_budget(self) -> bool:
        return self.remaining_yen is not None and self.remaining_yen < 0

    @property
    def over_yen(self) -> int:
        return -self.remaining_yen if self.remaining_yen is not None and self.remaining_yen < 0 else 0

    @property
    def ranking_estimate_yen(self) -> int:
        return sum(r.application.estimate_yen or 0 for r in self.ranking)

    @property
    def preview(self) -> list[Ranked]:
        return [r for r in self.ranking if r.adopt]

    @property
    def preview_yen(self) -> int:
        return sum(r.application.estimate_yen or 0 for r in self.preview)


def ranked(program: str, round_id: str) -> list[Ranked]:
    """`review.ranking` (the order adoption follows) with each application's valid reviews, and how
    many scores were left out because their reviewer is now related to the applicant."""
    rows = list(review.ranking(program, round_id).select_related("organization"))
    ids = [a.pk for a in rows]
    valid = {
        pk: (n, total)
        for pk, n, total in review.valid_reviews()
        .filter(application__in=ids)
        .order_by()
        .values_list("application_id")
        .annotate(n=Count("pk"), s=Sum("total"))
        .values_list("application_id", "n", "s")
    }
    left_out = dict(
        ReviewAssignment.objects.filter(application__in=ids, conflict=False, total__isnull=False)
        .filter(review.related_reviews())
        .order_by()
        .values_list("application_id")
        .annotate(n=Count("pk"))
        .values_list("application_id", "n")
    )
    return [
        Ranked(a, Fraction(valid[a.pk][1], valid[a.pk][0]), valid[a.pk][0], related=left_out.get(a.pk, 0))
        for a in rows
    ]


def mark_within(rows: list[Ranked], budget_yen: int) -> list[Ranked]:
    """What `review.adopt_within_budget` would adopt: down the ranking, skipping what does not fit."""
    spent = 0
    for row in rows:
        amount = row.application.estimate_yen or 0
        row.adopt = spent + amount <= budget_yen
        if row.adopt:
            spent += amount
    return rows


def _committed(apps: QuerySet[Application]) -> dict[str, int | None]:
    """What a round has committed: 交付決定額 once granted, the estimate while adopted but not granted."""
    return apps.aggregate(
        granted=Sum("granted_yen", filter=Q(state__in=GRANTED_STATES)),
        pending=Sum("estimate_yen", filter=Q(state__in=PENDING_GRANT_STATES)),
    )


def round_figures(program: str, round_id: str) -> RoundFigures:
    apps = Application.objects.filter(program=program, round_id=round_id, submitted_at__isnull=False)
    counted = dict(apps.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    sums = _committed(apps)
    figures = RoundFigures(
        program=program,
        round_id=round_id,
        program_name=program_name(program),
        round_name=round_name(program, round_id),
        by_state=[
            {"state": s.value, "label": s.label, "count": counted.get(s.value, 0)} for s in QUEUE_STATES
        ],
        submitted=sum(counted.values()),
        adopted=sum(counted.get(s.value, 0) for s in ADOPTED_STATES),
        granted_yen=sums["granted"] or 0,
        pending_yen=sums["pending"] or 0,
        budget=RoundBudget.objects.filter(program=program, round_id=round_id).first(),
        ranking=ranked(program, round_id),
    )
    if figures.remaining_yen is not None:
        mark_within(figures.ranking, max(figures.remaining_yen, 0))
    return figures


# -- writes: the round's budget, adoption within it ------------------------------------------------------------


def _secretariat(actor: User, what: str) -> None:
    if not actor.has_role(Role.SECRETARIAT):
        raise DomainError("forbidden", f"{what}権限がありません")


@transaction.atomic
def round_budget_set(*, actor: User, program: str, round_id: str, budget_yen: int) -> RoundBudget:
    _secretariat(actor, "予算額を設定する")
    if not round_known(program, round_id):
        raise DomainError("not_found", "公募回が見つかりません")
    if not 0 <= budget_yen <= MAX_YEN:
        raise DomainError("invalid_input", "予算額は0円以上で入力してください")
    budget, created = RoundBudget.objects.select_for_update().get_or_create(
        program=program, round_id=round_id, defaults={"budget_yen": budget_yen, "updated_by": actor}
    )
    before = None if created else budget.budget_yen
    if before == budget_yen:
        return budget  # the same amount again (a double click): nothing changes
    if not created:
        budget.budget_yen, budget.updated_by = budget_yen, actor
        budget.save()
    audit_record(
        actor=actor,
        action="round_budget.set",
        obj=budget,
        data={"program": program, "round": round_id, "from": before, "to": budget_yen},
    )
    return budget


@dataclass
class Adoption:
    adopted: list[Application]
    already: bool = False  # the same confirmation posted again (a double click): nothing more to do


def adopt_confirmed(*, actor: User, program: str, round_id: str, confirmed: list[int]) -> Adoption:
    """Adopt within the remaining budget exactly the applications the secretariat confirmed.

    The round's budget row is locked for the whole adoption, so two submissions run one after the
    other; if the ranking or the budget changed since the confirmation, nothing is adopted."""
    _secretariat(actor, "採択する")
    with transaction.atomic():
        budget = RoundBudget.objects.select_for_update().filter(program=program, round_id=round_id).first()
        if budget is None:
            raise DomainError("no_budget", "先にこの公募回の予算額を設定してください")
        figures = round_figures(program, round_id)
        remaining = max(figures.remaining_yen or 0, 0)
        planned = [r.application.pk for r in figures.preview]
        if planned != confirmed:
            done = Application.objects.filter(pk__in=confirmed, state__in=ADOPTED_STATES).count()
            if not planned and confirmed and done == len(confirmed):
                return Adoption([], already=True)
            raise DomainError(
                "ranking_changed", "確認した後に順位・予算・採点が変わりました。もう一度確認してください"
            )
        if not planned:
            raise DomainError("nothing_to_adopt", "予算内で採択できる申請がありません")
        adopted = review.adopt_within_budget(
            actor=actor, program=program, round_id=round_id, budget_yen=remaining
        )
        if [a.pk for a in adopted] != planned:  # never: the preview follows the same rule
            raise DomainError("ranking_changed", "採択の対象が確認した内容と異なるため、中止しました")
        audit_record(
            actor=actor,
            action="round.adopt_within_budget",
            obj=budget,
            data={"remaining_yen": remaining, "adopted": planned,
                  "total_yen": sum(a.estimate_yen or 0 for a in adopted)},
        )  # fmt: skip
    return Adoption(adopted)


@dataclass(frozen=True)
class Overrun:
    """Adopting one application would take the round past its budget."""

    remaining_yen: int  # the budget less what is committed, before this adoption (may be negative)
    amount_yen: int  # the application's 補助金額（試算）

    @property
    def over_yen(self) -> int:
        return self.amount_yen - self.remaining_yen

    @property
    def message(self) -> str:
        if self.remaining_yen < 0:
            return (f"予算はすでに {yen(-self.remaining_yen)}超過しています。この申請（補助金額（試算）"
                    f"{yen(self.amount_yen)}）を採択すると、超過は {yen(self.over_yen)}になります。"
                    "それでも採択しますか？")  # fmt: skip
        return (f"この申請の補助金額（試算）{yen(self.amount_yen)}を採択すると、予算残額 "
                f"{yen(self.remaining_yen)}を {yen(self.over_yen)}超えます。それでも採択しますか？")  # fmt: skip


class OverBudget(DomainError):
    """The adoption needs the secretariat's confirmation of this overrun (nothing was changed)."""

    def __init__(self, overrun: Overrun, *, changed: bool = False) -> None:
        message = overrun.message
        if changed:
            message = "確認した後に予算残額が変わりました。" + message
        super().__init__("over_budget", message)
        self.overrun = overrun


def remaining_for(application: Application) -> int | None:
    """The round's budget less what it has committed (None: no budget set)."""
    budget = RoundBudget.objects.filter(program=application.program, round_id=application.round_id).first()
    if budget is None:
        return None
    apps = Application.objects.filter(
        program=application.program, round_id=application.round_id, submitted_at__isnull=False
    )
    sums = _committed(apps)
    return budget.budget_yen - (sums["granted"] or 0) - (sums["pending"] or 0)


def adopt_application(
    *, actor: User, application: Application, accept_over_yen: int | None = None
) -> Application:
    """「採択する」 on one application. Within the round's remaining budget (or with no budget set) it
    is adopted at once; past it, only when the secretariat confirmed exactly this overrun
    (`accept_over_yen`), else `OverBudget` asks. The budget row is locked as in `adopt_confirmed`,
    so adoptions of a round, one by one or within the budget, run one after the other; the overrun
    accepted is recorded in the adoption's audit data."""
    with transaction.atomic():
        budget = (
            RoundBudget.objects.select_for_update()
            .filter(program=application.program, round_id=application.round_id)
            .first()
        )
        data: dict[str, Any] = {}
        current = Application.objects.select_related("organization").get(pk=application.pk)
        adoptable = current.state == State.UNDER_REVIEW and workflow.may(
            actor, workflow.ACTIONS["adopt"], current
        )
        if budget is not None and adoptable:  # otherwise the transition says why not
            sums = _committed(
                Application.objects.filter(
                    program=current.program, round_id=current.round_id, submitted_at__isnull=False
                )
            )
            remaining = budget.budget_yen - (sums["granted"] or 0) - (sums["pending"] or 0)
            amount = current.estimate_yen or 0
            if amount > remaining:
                overrun = Overrun(remaining, amount)
                if accept_over_yen != overrun.over_yen:
                    raise OverBudget(overrun, changed=accept_over_yen is not None)
                data = {"budget_yen": budget.budget_yen, "remaining_yen": remaining,
                        "over_budget_yen": overrun.over_yen}  # fmt: skip
        return workflow.transition(
            actor=actor, application=current, action_name="adopt", apply=lambda locked: data
        )


# -- the back office's queue of 計画変更 ---------------------------------------------------------------------


def pending_changes(user: User, filters: Filters | None = None) -> QuerySet[ChangeRequest]:
    """計画変更 waiting for the secretariat's decision, oldest first, on applications this user sees
    (under the program and round filters)."""
    found = ChangeRequest.objects.filter(
        status=ChangeRequest.Status.PENDING, application__in=office_applications(user)
    )
    if filters and filters.program:
        found = found.filter(application__program=filters.program)
    if filters and filters.round:
        found = found.filter(application__round_id=filters.round)
    return found.select_related("application__organization").order_by("requested_at", "pk")


# -- one application: history, reviewers, inspection ---------------------------------------------------------

AUDIT_LABELS = {
    "application.create": "作成",
    "application.save": "保存",
    "application.submit": "申請",
    "application.start_review": "審査開始",
    "application.return": "差戻し",
    "application.adopt": "採択",
    "application.reject": "不採択",
    "application.request_grant": "交付申請",
    "application.decide_grant": "交付決定",
    "application.report_results": "実績報告",
    "application.confirm_amount": "額の確定（確定検査）",
    "application.record_payment": "支払",
    "application.withdraw": "取下げ",
    "attachment.add": "ファイルの添付",
    "review.assign": "審査員の割当",
    "review.declare_conflict": "利益相反の申告",
    "review.score": "採点",
    "form4.issue": "様式4の交付",
    "followup.submit": "事業化状況報告",
    "followup.baseline": "事業化状況報告の基準値",
    "change.request": "計画変更の申請",
    "change.withdraw": "計画変更の取下げ",
    "change.approve": "計画変更の承認",
    "change.reject": "計画変更の不承認",
    "application.change_plan": "計画の変更",
}


def history(application: Application) -> list[dict[str, Any]]:
    """The audit rows of the application and of its attachments, reviews and change requests, oldest
    first; consecutive autosaves are folded into one row."""
    related = Q(object_type="applications.application", object_id=str(application.pk))
    reviewers = {str(r.pk): str(r.reviewer) for r in application.reviews.select_related("reviewer")}
    for label, ids in (
        ("applications.attachment", application.attachments.values_list("pk", flat=True)),
        ("applications.reviewassignment", reviewers),
        ("applications.changerequest", application.change_requests.values_list("pk", flat=True)),
    ):
        keys = [str(pk) for pk in ids]
        if keys:
            related |= Q(object_type=label, object_id__in=keys)
    out: list[dict[str, Any]] = []
    for row in AuditLog.objects.filter(related).select_related("actor").order_by("at", "id"):
        if out and row.action == "application.save" and out[-1]["action"] == row.action:
            out[-1]["count"] += 1
            out[-1]["at"] = row.at
            continue
        parts = [_summary(row.data)]
        if row.object_type == "applications.reviewassignment":
            parts.insert(0, f"審査員 {reviewers[row.object_id]}")
        out.append({"action": row.action, "label": AUDIT_LABELS.get(row.action, row.action), "at": row.at,
                    "actor": row.actor, "reason": row.reason, "count": 1,
                    "summary": "、".join(p for p in parts if p)})  # fmt: skip
    return out


AMOUNTS = {"estimate_yen": "補助金額（試算）", "granted_yen": "交付決定額", "confirmed_yen": "確定額",
           "paid_yen": "支払額", "total_yen": "合計"}  # fmt: skip


def _summary(data: dict[str, Any]) -> str:
    """The parts of an audit row's data worth reading: the move, amounts, points, the declaration."""
    labels = dict(State.choices)
    parts = []
    if "from" in data and "to" in data:
        parts.append(f"{labels.get(data['from'], data['from'])} → {labels.get(data['to'], data['to'])}")
    if data.get("receipt_number"):
        parts.append(f"受付番号 {data['receipt_number']}")
    parts += [f"{label} {yen(data[key])}" for key, label in AMOUNTS.items() if isinstance(data.get(key), int)]
    if isinstance(data.get("total"), int):
        parts.append(f"合計 {data['total']}点")
    if isinstance(data.get("conflict"), bool):
        parts.append("利益相反あり" if data["conflict"] else "利益相反なし")
    if data.get("late"):
        parts.append(f"実績報告期限（{data.get('report_deadline', '')}）後の報告")
    if data.get("paid_on"):
        parts.append(f"支払日 {data['paid_on']}")
    return "、".join(parts)


def explanation(application: Application) -> dict[str, Any] | None:
    """The engine's explanation of the confirmed amount, as recorded by the 確定検査."""
    row = (
        AuditLog.objects.filter(
            object_type="applications.application",
            object_id=str(application.pk),
            action="application.confirm_amount",
        )
        .order_by("-at", "-id")
        .first()
    )
    return row.data if row else None


def reviewers_to_assign(application: Application) -> QuerySet[User]:
    """Active reviewers not yet assigned, and not related to the applicant (its members and its
    advisors with consent in force: `review.related`, which `review_assign` refuses)."""
    assigned = application.reviews.values("reviewer_id")
    members = Membership.objects.filter(organization_id=application.organization_id).values("user_id")
    advisors = AdvisorConsent.objects.filter(
        organization_id=application.organization_id, revoked_at__isnull=True
    ).values("advisor_id")
    return (
        User.objects.filter(roles__role=Role.REVIEWER, is_active=True)
        .exclude(pk__in=assigned)
        .exclude(pk__in=members)
        .exclude(pk__in=advisors)
        .distinct()
        .order_by("name", "email")
    )


def related_reviewer_ids(application: Application) -> set[int]:
    """The assigned reviewers who are now related to the applicant: their scores do not count."""
    return set(application.reviews.filter(review.related_reviews()).values_list("reviewer_id", flat=True))


def inspection_decisions(post: QueryDict, application: Application) -> dict[int, tuple[bool, str]]:
    """The 確定検査 form as the service's decisions; every line judged, a rejection with its reason."""
    decisions: dict[int, tuple[bool, str]] = {}
    errors = []
    for number, line in enumerate(application.expense_lines.order_by("pk"), 1):
        choice = post.get(f"decision_{line.pk}", "")
        note = post.get(f"note_{line.pk}", "").strip()  # over 200 characters: refused by the service
        if choice not in ("accept", "reject"):
            errors.append({"field": f"decision_{line.pk}", "message": f"{number}行目: 認めるか認めないかを選んでください"})  # fmt: skip
        elif choice == "reject" and not note:
            errors.append({"field": f"note_{line.pk}", "message": f"{number}行目: 認めない理由を入力してください"})  # fmt: skip
        else:
            decisions[line.pk] = (choice == "accept", note)
    if errors:
        raise DomainError("invalid_input", "確定検査の入力に誤りがあります", errors)
    return decisions
