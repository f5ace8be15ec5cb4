"""The documented shape of an estimate result (OpenAPI); tests validate real output against it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_Out):
    parameter: str | None = None
    since: str | None = None
    reference: str
    url: str | None = None
    status: Literal["verified", "unverified"]
    note: str | None = None


class Criterion(_Out):
    code: str
    label: str
    passed: bool | None
    message: str
    source: Source | None


class Provision(_Out):
    code: str
    label: str
    applied: bool | None
    message: str


class Condition(_Out):
    code: str
    kind: Literal["confirm", "commit"]
    message: str
    due: str | None


class Obligation(_Out):
    code: str
    message: str
    due: str | None
    source: Source | None


class RoundInfo(_Out):
    id: str
    name: str
    accepting: bool
    acceptance_start: str | None
    acceptance_end: str | None
    status: Literal["verified", "unverified"]
    reference: str
    note: str | None = None
    project_end: str | None = None


class Unverified(_Out):
    parameter: str
    note: str | None
    reference: str


class Result(_Out):
    program: str
    frame: str
    program_name: str
    frame_name: str
    kind: Literal["grant", "non_grant"]
    eligible: bool
    subsidy_yen: int | None
    cap_yen: int | None
    rate: str | None
    rate_detail: str | None
    criteria: list[Criterion]
    provisions: list[Provision]
    conditions: list[Condition]
    obligations: list[Obligation]
    trace: list[str]
    round: RoundInfo | None
    contact: dict[str, object]
    unverified: list[Unverified]


class EstimateDocument(_Out):
    id: str | None = None
    as_of: str
    results: list[Result]


class Coded(_Out):
    code: str
    label: str


class Link(_Out):
    title: str
    url: str | None


class FrameDocument(_Out):
    id: str
    key: str
    name: str
    summary: str
    purposes: list[Coded]
    expenses: list[Coded]
    round: RoundInfo | None


class RoundDocument(_Out):
    id: str
    name: str
    frames: list[str]
    acceptance_start: str | None
    acceptance_end: str | None
    accepting: bool
    announced_at: str | None
    results: str | None
    project_end: str | None
    report_deadline: str | None
    form4_deadline: str | None
    status: Literal["verified", "unverified"]
    note: str | None
    reference: str


class HistoryEntry(_Out):
    since: str
    value: object
    status: Literal["verified", "unverified"]


class ParameterDocument(_Out):
    name: str
    description: str
    unit: str | None
    value: object
    since: str
    status: Literal["verified", "unverified"]
    note: str | None
    reference: Link
    history: list[HistoryEntry]


class ProgramDocument(_Out):
    """One program as `GET /api/v1/programs[/{id}]` and `shien programs --json` give it."""

    id: str
    name: str
    short_name: str
    kind: Literal["grant", "non_grant"]
    summary: str
    authority: str
    budget: str | None
    audience: list[Coded]
    participation: str | None
    how_to_apply: str
    steps: list[str]
    goals: list[str]
    notes: list[str]
    facts: list[str]
    contact: dict[str, object]
    reference: Link
    accepting: bool
    frames: list[FrameDocument]
    rounds: list[RoundDocument]
    parameters: list[ParameterDocument]


class FieldError(_Out):
    field: str = Field(
        description="項目の場所（例: business.employees）。配列・JSON Lines では各入力の中での場所"
    )
    label: str = Field(description="項目の名前（日本語）")
    message: str = Field(description="誤りの説明（日本語）")
    item: int | None = Field(None, ge=1, description="配列・JSON Lines の何件目の入力か（1から数える）")
    line: int | None = Field(None, ge=1, description="JSON Lines の何行目か（1から数える。空行も数える）")


class ErrorDocument(_Out):
    code: str
    message: str
    errors: list[FieldError]
