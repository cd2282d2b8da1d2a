"""Browser fixtures: Playwright from PyPI driving Debian's Chromium (nothing downloads one).

Chromium starts headless with the flags this machine needs (no sandbox as root, no
background networking on a closed network), each test in a fresh browser context.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.conftest import ServerProcess
from tests.proxy_servers import ProxyProcess, need_binary, start_nginx, upstream
from tests.smtp import PRODUCTION_BCRYPT_ROUNDS, TEST_ENCRYPTION_KEY, MailSink

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


class Stack:
    """userauth behind nginx, in front of an app; the browser only ever talks to nginx."""

    def __init__(self, userauth: ServerProcess, proxy: ProxyProcess, mail: MailSink) -> None:
        self.userauth, self.proxy, self.mail = userauth, proxy, mail

    def url(self, path: str) -> str:
        return f"{self.proxy.url}{path}"


@pytest.fixture
def stack(
    start_server: Callable[..., ServerProcess], mail: MailSink, tmp_path: Path
) -> Iterator[Stack]:
    userauth = start_server(
        USERAUTH_ENV="production",
        USERAUTH_HOST="127.0.0.1",
        USERAUTH_WORKERS="1",
        USERAUTH_BCRYPT_ROUNDS=str(PRODUCTION_BCRYPT_ROUNDS),
        USERAUTH_SMTP_HOST="127.0.0.1",
        USERAUTH_SMTP_PORT=str(mail.port),
        USERAUTH_SMTP_TLS="none",
        USERAUTH_RESET_LINK="https://app.example.com/auth/reset?token={token}",
        USERAUTH_SECRET_KEY="a test secret key that is long enough to sign forms",
        USERAUTH_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        USERAUTH_WEBAUTHN_RP_ID="localhost",
        USERAUTH_WEBAUTHN_ORIGINS="http://localhost",
        USERAUTH_REDIRECT_HOSTS="127.0.0.1",
        USERAUTH_TRUSTED_PROXIES="1",
    )
    with upstream() as app_port:
        proxy = start_nginx(tmp_path, userauth.port, app_port)
        try:
            yield Stack(userauth, proxy, mail)
        finally:
            proxy.stop()
