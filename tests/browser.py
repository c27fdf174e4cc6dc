"""What the browser tests share: Debian's Chromium, its launch arguments, and where screenshots go.

Playwright drives Debian's Chromium (``apt-get install chromium``, ``make browser``) through
``executable_path``: a test tool's own browser download does not work on the kit's machines.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    """Chromium's path; a missing browser (or playwright) skips locally and fails under CI."""
    missing = None
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing = f"Debian's chromium is not installed ({CHROMIUM}): run `make browser`"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright Python package is not installed: pip install -e '.[dev]'"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@pytest.fixture(scope="module")
def artifacts(repo_root) -> Path:
    """``test-artifacts/`` (git-ignored), where the browser tests keep their screenshots."""
    out = repo_root / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out


def wait_until(page, expression: str, *, arg=None, timeout_ms: float = 30_000, every_s: float = 0.1):
    """Wait until ``expression`` (a JavaScript function or expression) is truthy in ``page``.

    Polls with ``page.evaluate`` from Python rather than Playwright's ``wait_for_function``: when
    its first check fails, that one polls inside the page through ``eval``, which a page with a
    strict Content-Security-Policy (the leaderboard's ``script-src 'self'``) forbids, so the test
    would fail on a slow machine only.
    """
    import time

    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_ms / 1000:.0f} s: {expression}")
        time.sleep(every_s)
