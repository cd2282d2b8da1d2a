"""Browser fixtures: Playwright from PyPI driving Debian's Chromium (nothing downloads one).

Chromium starts headless with the flags this machine needs (no sandbox as root, no
background networking on a closed network), each test in a fresh browser context.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.proxy_servers import need_binary

# The README shows docs/screenshots: with UPDATE_SCREENSHOTS set, each browser test that
# visits a page writes its screenshot there; otherwise to a temporary folder, so that a test
# run leaves the checkout as it found it.
DOCS_SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "userauth-screenshots"
)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole run."""
    executable = need_binary("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile: its own cookies, like another person's browser."""
    made = browser.new_context(viewport={"width": 900, "height": 760})
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> None:
    """Write the page as NAME.png in SCREENSHOTS (docs/screenshots with UPDATE_SCREENSHOTS)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
