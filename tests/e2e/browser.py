"""A headless Chromium for page tests: Debian's package, driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

REQUIRE = os.environ.get("BROADCASTER_TEST_REQUIRE_BROWSER") == "1"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def chromium() -> Iterator[object]:
    """A launched browser, or a skip (a failure when BROADCASTER_TEST_REQUIRE_BROWSER=1)."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        reason = "Chromium or Playwright missing (make test installs Debian's chromium as root)"
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def page_problems(page: object) -> list[str]:
    """Collects what the page reports going wrong: CSP refusals and uncaught script errors.

    The list fills as the page runs; a test asserts it is empty at the end."""
    found: list[str] = []

    def on_console(message: object) -> None:
        text = str(getattr(message, "text", ""))
        if "Content Security Policy" in text:
            found.append(text)

    page.on("console", on_console)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))  # type: ignore[attr-defined]
    return found
