"""Shared test fixtures: the app's clock, frozen and moved; a real headless Chromium (Debian's package)
driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shien.rules import clock as app_clock

# Playwright's sync API runs an event loop in the test thread; Django must still allow DB access there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Clock:
    """The app's one clock (`shien.rules.clock`) as a test holds it: frozen where it stood when the test
    asked for it, then set or moved on. Every `clock.now()` of the app answers this moment, in every
    thread (the live server of the browser tests too)."""

    def __init__(self) -> None:
        app_clock.freeze(app_clock.now())

    def now(self) -> datetime:
        return app_clock.now()

    def set(self, at: datetime) -> datetime:
        """Freeze the clock at `at` (aware)."""
        app_clock.freeze(at)
        return app_clock.now()

    def advance(self, by: timedelta) -> datetime:
        """Move the frozen clock on by `by`."""
        return self.set(app_clock.now() + by)


@pytest.fixture
def clock() -> Iterator[Clock]:
    """The app's clock, frozen for the test: `clock.set(datetime)`, `clock.advance(timedelta)`."""
    yield Clock()


@pytest.fixture(autouse=True)
def _wall_clock() -> Iterator[None]:
    """Every test ends on the wall clock again (whoever froze the app's clock: the `clock` fixture, a
    builder that moved it on to a payment day)."""
    yield
    app_clock.thaw()


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.fail("Chromium が見つかりません（./scripts/test が apt で導入します）")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def axe_source() -> str:
    path = Path(__file__).parent / ".cache/node/node_modules/axe-core/axe.min.js"
    if not path.exists():
        pytest.fail("axe-core がありません（./scripts/test が npm で導入します）")
    return path.read_text(encoding="utf-8")


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical WCAG 2.x A/AA violations on the current page (axe-core)."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"
    )
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
