"""The demo server: practice rounds open today, and demo applications at every stage for each role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from shien.applications.models import Application, State
from shien.rules import clock, engine
from shien.rules.demo import PRACTICE_ID, add_practice_rounds
from shien.rules.frames import base
from shien.rules.registry import registry


def _clear() -> None:
    base.rounds_at.cache_clear()
    engine._round_dict.cache_clear()


@pytest.fixture
def practice() -> Iterator[None]:
    """Practice rounds for this test only (the registry is shared by the worker's other tests)."""
    saved = dict(registry().programs)
    _clear()
    add_practice_rounds(clock.now())
    yield
    registry().programs.clear()
    registry().programs.update(saved)
    _clear()


def test_practice_rounds_are_open_marked_and_use_the_latest_rules(practice: None) -> None:
    info = base.rounds_at(clock.now())
    for key in ("monozukuri/shoryokuka", "jizokuka/tsujo", "it_donyu/invoice"):
        assert info[key].accepting and info[key].round.id == PRACTICE_ID, key
        assert info[key].round.status == "unverified" and "デモ" in info[key].round.name
    # a frame with a real open round keeps it (省力化 カタログ型 常時受付, until 令和8年度)
    assert info["shoryokuka/catalog"].accepting and info["shoryokuka/catalog"].round.id != PRACTICE_ID
    assert info["case_mobility/itaku"].round is None or info["case_mobility/itaku"].round.id != PRACTICE_ID
    add_practice_rounds(clock.now())  # twice: still one practice round per program
    assert sum(r.id == PRACTICE_ID for r in registry().programs["monozukuri"].rounds) == 1


@pytest.mark.django_db
def test_demo_data_has_an_application_at_each_stage(practice: None, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    call_command("load_demo")
    call_command("load_demo")  # idempotent
    states = sorted(Application.objects.values_list("program", "state"))
    assert states == sorted([
        ("monozukuri", State.DRAFT), ("jizokuka", State.DRAFT), ("it_donyu", State.UNDER_REVIEW),
        ("shoryokuka", State.GRANTED), ("monozukuri", State.PAID),
    ])  # fmt: skip
    assert {a.round_id for a in Application.objects.exclude(program="shoryokuka")} == {PRACTICE_ID}


@pytest.mark.django_db
def test_without_practice_rounds_the_demo_makes_no_applications() -> None:
    _clear()
    call_command("load_demo")
    assert not Application.objects.exists()
