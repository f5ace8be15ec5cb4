"""The applicant's follow-up reports: which years and fiscal years a report may be for, and the refund."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from conftest import Clock
from django.test import Client

from shien.applications import followup
from shien.applications.models import Application
from shien.applications.tests.factories import user
from shien.applications.tests.test_followup_programs import BASE, figures, make_app, with_baseline
from shien.rules.errors import DomainError
from shien.rules.registry import JST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


AFTER_YEAR_ONE = datetime(2026, 1, 5, 10, 0, tzinfo=JST)  # year 1 has closed (in March or December)


def test_the_preview_refuses_a_report_year_beyond_the_programs_years(client: Client) -> None:
    """The growth targets are powers of the year: /followup/2000000/preview/ took seconds of CPU."""
    owner = user("owner@example.jp")
    app = with_baseline(make_app("monozukuri", owner), owner)
    client.force_login(owner)
    for year in (6, 2_000_000):
        response = client.post(f"/applications/{app.pk}/followup/{year}/preview/", {"min_wage_yen": "1000"})
        assert response.status_code == 404
    assert client.post(f"/applications/{app.pk}/followup/1/preview/", {}).status_code == 200
    with pytest.raises(DomainError, match="1〜5年目"):
        followup.evaluate(app, 6, figures(6))


def test_a_report_cannot_pick_an_older_fiscal_year_to_meet_a_lower_minimum_wage(clock: Clock) -> None:
    """広島県: 970円 until 2024-09-30, 1,020円 from 2024-10-01. The year-1 report of a grant paid on
    2025-01-31 is for the year ending 2025-03-31 (1,020 + 30 円 needed): dating it 2024-03-31 picked the
    older wage, and the missed commitment refunded nothing."""
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    app = with_baseline(make_app("monozukuri", owner), owner)
    with pytest.raises(DomainError, match="1年目の報告の事業年度末は") as refused:
        followup.followup_submit(actor=owner, application=app, year=1,
                                 figures=figures(1, fiscal_year_end=date(2024, 3, 31)))  # fmt: skip
    assert refused.value.errors[0]["field"] == "fiscal_year_end"
    report = followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    wage = next(c for c in report.checks if c["code"] == "min_wage")
    assert wage["passed"] is False and report.refund_yen == 12_000_000 // 5


def test_an_assumed_fiscal_year_must_still_end_in_the_report_year(clock: Clock) -> None:
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    plan = {"followup": {"baseline": {k: v for k, v in BASE.items() if k != "fiscal_year_end"}}}
    app = make_app("monozukuri", owner, plan=plan)  # the fiscal year end is only assumed (03-31)
    assert followup.fiscal_month_day(app)[2] is True
    with pytest.raises(DomainError, match="支払日"):
        followup.followup_submit(actor=owner, application=app, year=1,
                                 figures=figures(1, fiscal_year_end=date(2024, 12, 31)))  # fmt: skip
    report = followup.followup_submit(  # a business whose year ends in December: allowed
        actor=owner, application=app, year=1, figures=figures(1, fiscal_year_end=date(2025, 12, 31))
    )
    assert report.year == 1


def test_nothing_is_refunded_when_nothing_was_confirmed(clock: Clock) -> None:
    """確定額 0円 (every line rejected at the inspection): the refund was taken from 交付決定額 instead."""
    clock.set(AFTER_YEAR_ONE)
    owner = user("owner@example.jp")
    app = make_app("monozukuri", owner, confirmed_yen=0)
    Application.objects.filter(pk=app.pk).update(granted_yen=12_000_000)
    app = with_baseline(Application.objects.get(pk=app.pk), owner)
    report = followup.followup_submit(actor=owner, application=app, year=1, figures=figures(1))
    assert next(c for c in report.checks if c["code"] == "min_wage")["passed"] is False
    assert report.refund_yen == 0
