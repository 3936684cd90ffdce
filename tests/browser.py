"""A real headless Chromium for the HTML report's tests: Debian's `chromium` (apt-get install
chromium; .ci/run installs it), driven by Playwright's Python client through
`executable_path` — Playwright's own browser download is never used — with a fresh profile
in a temporary folder and `--no-sandbox` (the tests run as root).

Missing browser or client: under CI (CI=true) the test fails, elsewhere it is skipped and
says what to install. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI must have it: .ci/run installs it)")
    pytest.skip(f"{what}; install it to run the browser tests")


def chromium_path() -> str:
    override = os.environ.get("COGVID_LINT_CHROMIUM")
    for name in ((override,) if override else CANDIDATES):
        found = shutil.which(name)
        if found:
            return found
    _missing("no Chromium found (apt-get install chromium)")
    raise AssertionError  # not reached


@contextmanager
def browser_page() -> Iterator[tuple[object, list[str]]]:
    """(a Playwright page in a fresh headless Chromium, every URL it requested)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Playwright client is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="cvl-chromium-") as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=["--no-sandbox"],
            viewport={"width": 1280, "height": 900})
        try:
            requested: list[str] = []
            errors: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, requested
            assert not errors, errors
        finally:
            context.close()


def screenshot(page, name: str) -> Path:
    """Keep a screenshot of `page` as a test artifact; its path is printed."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
