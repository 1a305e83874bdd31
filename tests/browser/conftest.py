"""Playwright against Debian's Chromium and a live Django server.

No browser download is possible here: pytest-playwright is pointed at
/usr/bin/chromium (installed with fonts-noto-cjk by .ci/run). Every test in this
folder is marked ``browser`` and runs with a transactional database, since the
live server's threads cannot see a test's open transaction. ``shot`` saves a
numbered screenshot of each step under test-results/<test name>/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import CHROMIUM

# The sync Playwright API runs an event loop in the test's thread; Django's ORM
# calls from that thread (factories, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

OUTPUT = Path(__file__).resolve().parents[2] / "test-results"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # A phone first: patients arrive on one. Staff tests set their own viewport.
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "timezone_id": "Asia/Hong_Kong"}


@pytest.fixture(scope="session")
def base_url(live_server: Any) -> str:
    return live_server.url


@pytest.fixture(autouse=True)
def _live_db(transactional_db: None, settings: Any) -> Iterator[None]:
    # The live server serves static files from the app folders (no collectstatic in tests).
    settings.DEBUG = False
    yield


@pytest.fixture
def shot(request: pytest.FixtureRequest, page: Any) -> Callable[[str], Path]:
    """``shot("03-times")`` saves a full-page screenshot for this test's step."""
    folder = OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.nodeid.split("::", 1)[-1])
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def take(name: str) -> Path:
        counter["n"] += 1
        path = folder / f"{counter['n']:02d}-{name}.png"
        # caret="initial": hiding the caret adds style="" to inputs, which htmx would copy (a CSP report).
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take
