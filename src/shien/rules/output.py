"""The documented shape of an estimate result (OpenAPI); tests validate real output against it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


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


class FieldError(_Out):
    field: str
    label: str
    message: str


class ErrorDocument(_Out):
    code: str
    message: str
    errors: list[FieldError]
