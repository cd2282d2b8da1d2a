"""Cookie tossing in Chromium: a sibling subdomain plants its session cookie for /profile.

The victim logs in at auth.<site>; the attacker's page at evil.<site> sets
`session_id=<attacker's session>; Domain=<site>; Path=/profile`, which Chromium then sends to
auth.<site> before the victim's own (the longer path first). Chromium maps *.example.test to
loopback (`--host-resolver-rules`), a site over plain http, where a browser honours no
Clear-Site-Data: the answer's cookie expiries alone must remove the planted copy. Production's
`__Host-` cookie must be Secure, which Chromium accepts over plain http only from a secure
context: *.localhost is one (and resolves to loopback by itself), so the production server is
reached as auth.example.localhost rather than behind TLS.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import CHROMIUM_FLAGS
from tests.conftest import ServerProcess, free_port
from tests.proxy_servers import need_binary
from tests.smtp import PRODUCTION_BCRYPT_ROUNDS, TEST_ENCRYPTION_KEY, TEST_SECRET_KEY, MailSink

PASSWORD = "correct horse battery staple"
VICTIM = "victim@example.com"
ATTACKER = "attacker@example.com"
SITE = "example.test"
SECURE_SITE = "example.localhost"

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]


@pytest.fixture(scope="module")
def resolving_browser(browser: Browser) -> Iterator[Browser]:
    """A second Chromium, in the same Playwright, that resolves *.example.test to loopback."""
    launched = browser.browser_type.launch(
        executable_path=need_binary("chromium"),
        args=[*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP *.{SITE} 127.0.0.1"],
    )
    yield launched
    launched.close()


@pytest.fixture
def victim_context(resolving_browser: Browser) -> Iterator[BrowserContext]:
    made = resolving_browser.new_context()
    yield made
    made.close()


class _Sibling(BaseHTTPRequestHandler):
    """The attacker's page on a sibling subdomain: it plants the cookies it is given."""

    cookies: list[str] = []  # noqa: RUF012 - set by each test before serving

    def do_GET(self) -> None:
        body = b"<p>Nothing to see here.</p>"
        self.send_response(200)
        for cookie in self.cookies:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def plant_from_sibling(page: Page, site: str, cookies: list[str]) -> None:
    """Visit the attacker's page at evil.<site>, which sets `cookies` (Set-Cookie values)."""
    _Sibling.cookies = cookies
    sibling = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sibling)
    threading.Thread(target=sibling.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://evil.{site}:{sibling.server_address[1]}/")
    finally:
        sibling.shutdown()
        sibling.server_close()


def attackers_session(server: ServerProcess) -> str:
    """Register the attacker and log in from a program; return the attacker's session id."""
    account = {"email": ATTACKER, "password": PASSWORD}
    assert requests.post(f"{server.url}/users", data=account, timeout=10).status_code == 200
    login = requests.post(f"{server.url}/sessions", data=account, timeout=10)
    assert login.status_code == 200
    # session_id, or __Host-session_id in production.
    [session_id] = [c.value for c in login.cookies if c.name.endswith("session_id") and c.value]
    return session_id


def sign_up_and_log_in(page: Page, origin: str) -> None:
    page.goto(f"{origin}/auth/signup")
    page.get_by_label("Email").fill(VICTIM)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    # Development's sign-up logs in at once; production's sends everyone to the login page.
    page.wait_for_url(re.compile(r"/auth/(account|login)"))
    if "/auth/login" in page.url:
        expect(page.get_by_role("status")).to_contain_text("Your account is ready")
        log_in(page)


def log_in(page: Page) -> None:
    page.get_by_label("Email").fill(VICTIM)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{page.url.split('/auth/')[0]}/auth/account")


def profile_text(page: Page, origin: str) -> str:
    page.goto(f"{origin}/profile")
    return page.inner_text("body")


def session_cookies(context: BrowserContext, name: str) -> list[tuple[str, str]]:
    """Return (domain, path) of every cookie of this name the browser holds."""
    return [
        (c.get("domain", ""), c.get("path", "")) for c in context.cookies() if c["name"] == name
    ]


class TestTossedIntoDevelopment:
    def test_the_victim_is_not_the_attacker_and_can_log_out(
        self, start_server: Callable[..., ServerProcess], victim_context: BrowserContext
    ) -> None:
        server = start_server()
        attacker = attackers_session(server)
        origin = f"http://auth.{SITE}:{server.port}"
        page = victim_context.new_page()
        sign_up_and_log_in(page, origin)
        assert VICTIM in profile_text(page, origin)

        plant_from_sibling(page, SITE, [f"session_id={attacker}; Domain={SITE}; Path=/profile"])
        assert (f".{SITE}", "/profile") in session_cookies(victim_context, "session_id")

        seen = profile_text(page, origin)
        assert ATTACKER not in seen
        assert "no valid session" in seen
        # The answer expired both copies, the planted one included.
        assert session_cookies(victim_context, "session_id") == []

        page.goto(f"{origin}/auth/login")
        log_in(page)
        assert VICTIM in profile_text(page, origin)
        page.goto(f"{origin}/auth/account")
        page.get_by_role("button", name="Log out", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out")
        seen = profile_text(page, origin)
        assert VICTIM not in seen
        assert ATTACKER not in seen


class TestTossedIntoProduction:
    def test_a_planted_unprefixed_cookie_is_ignored(
        self,
        start_server: Callable[..., ServerProcess],
        mail: MailSink,
        victim_context: BrowserContext,
    ) -> None:
        server = start_server(
            USERAUTH_ENV="production",
            USERAUTH_HOST="127.0.0.1",
            USERAUTH_WORKERS="1",
            USERAUTH_BCRYPT_ROUNDS=str(PRODUCTION_BCRYPT_ROUNDS),
            USERAUTH_SMTP_HOST="127.0.0.1",
            USERAUTH_SMTP_PORT=str(mail.port),
            USERAUTH_SMTP_TLS="none",
            USERAUTH_RESET_LINK="https://auth.example.com/auth/reset?token={token}",
            USERAUTH_SECRET_KEY=TEST_SECRET_KEY,
            USERAUTH_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
            USERAUTH_WEBAUTHN_RP_ID="localhost",
            USERAUTH_WEBAUTHN_ORIGINS="http://localhost",
        )
        attacker = attackers_session(server)
        origin = f"http://auth.{SECURE_SITE}:{server.port}"
        page = victim_context.new_page()
        sign_up_and_log_in(page, origin)

        plant_from_sibling(
            page,
            SECURE_SITE,
            [
                f"session_id={attacker}; Domain={SECURE_SITE}; Path=/profile",
                # What the prefix forbids: Chromium refuses to store it.
                f"__Host-session_id={attacker}; Domain={SECURE_SITE}; Path=/; Secure",
            ],
        )
        assert (f".{SECURE_SITE}", "/profile") in session_cookies(victim_context, "session_id")

        seen = profile_text(page, origin)
        assert VICTIM in seen
        assert ATTACKER not in seen
        # The victim's own cookie is the only one of its name: no other host can set one.
        assert session_cookies(victim_context, "__Host-session_id") == [
            (f"auth.{SECURE_SITE}", "/")
        ]
