"""How the rules engine sees an application: the organization's facts with the plan, and the engine's
result for the application's own frame. Submission, 計画変更 and 確定検査 all judge through here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shien.accounts.models import Organization
from shien.applications.models import Application
from shien.core.errors import DomainError
from shien.rules.engine import estimate
from shien.rules.schema import Profile, japanese_errors


def organization_facts(org: Organization) -> dict[str, Any]:
    """The facts of the organization the rules engine reads (kept with an application when submitted)."""
    return {
        "prefecture": org.prefecture,
        "industry": org.industry,
        "employees": org.employees,
        "capital_yen": org.capital_yen,
        "invoice_registered": bool(org.invoice_number) or None,
    }


def profile_for(application: Application, at: datetime) -> Profile:
    """The rules engine's view of an application: the organization's facts and the plan."""
    document = {
        "as_of": at.isoformat(),
        "business": {
            **(application.facts or organization_facts(application.organization)),
            **application.plan.get("business", {}),
        },
        "plan": {k: v for k, v in application.plan.items() if k not in ("business", "followup")},
    }
    try:
        return Profile.model_validate(document)
    except ValidationError as exc:
        raise DomainError("invalid_input", "申請内容に誤りがあります", japanese_errors(exc)) from None


def _frame_result(application: Application, at: datetime) -> dict[str, Any]:
    key = f"{application.program}/{application.frame}"
    document = estimate([profile_for(application, at)], as_of=at, frames={key})[0]
    return next(
        r
        for r in document["results"]
        if r["program"] == application.program and r["frame"] == application.frame
    )
