"""The hosted pages in a real browser: Debian's Chromium, driven by Playwright.

The stack is what an operator runs: `userauth serve` (production settings, mail to a test
SMTP sink), a protected app behind Debian's nginx asking the gate, and a browser visiting
the app through nginx. Each test writes screenshots of the pages it sees (conftest.SCREENSHOTS).
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack, screenshot
from tests.conftest import free_port
from tests.smtp import MailSink

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new and longer passphrase"
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]


def sign_up(page: Page, stack: Stack, email: str, shot: str | None = None) -> None:
    page.goto(stack.url("/auth/signup"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("status")).to_contain_text("Your account is ready")


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


class TestSignUpLogInAppLogOut:
    def test_a_new_account_reaches_the_protected_app_and_logs_out(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "ann@example.com", shot="signup")
        screenshot(page, "login")
        log_in(page, "ann@example.com")
        expect(page).to_have_url(re.compile(r"/auth/account$"))
        screenshot(page, "account")

        page.goto(stack.url("/dashboard"))
        assert '"X-Auth-Request-Email": "ann@example.com"' in page.content()

        page.goto(stack.url("/auth/account"))
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out")
        page.goto(stack.url("/dashboard"))
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))

    def test_the_return_url_survives_login(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "ben@example.com")
        page.goto(stack.url("/dashboard?tab=sessions"))
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))
        log_in(page, "ben@example.com")
        expect(page).to_have_url(stack.url("/dashboard?tab=sessions"))
        assert '"path": "/dashboard?tab=sessions"' in page.content()

    def test_a_wrong_password_is_shown_next_to_the_field(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "cid@example.com")
        log_in(page, "cid@example.com", "not the password")
        error = page.locator("#password-error")
        expect(error).to_have_text("wrong email or password")
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
        screenshot(page, "login-error")


class TestForgotAndReset:
    def test_the_mailed_link_sets_a_new_password(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "dee@example.com")
        page.goto(stack.url("/auth/forgot"))
        screenshot(page, "forgot")
        page.get_by_label("Email").fill("dee@example.com")
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_role("status")).to_contain_text("If this email has an account")

        token = wait_for_token(stack.mail, "dee@example.com")
        page.goto(stack.url(f"/auth/reset?token={token}"))
        screenshot(page, "reset")
        expect(page.get_by_label("Email")).to_have_count(0)
        page.get_by_label("New password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Set the new password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password is changed")

        log_in(page, "dee@example.com", NEW_PASSWORD)
        expect(page).to_have_url(re.compile(r"/auth/account$"))


def wait_for_token(mail: MailSink, address: str, timeout: float = 20) -> str:
    """Return the reset token of the newest mail to `address` (the outbox sends it later)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Production also mails a verification link at sign-up: the reset mail is the one.
        received = [m for m in mail.to(address) if m.message["Subject"] == "Reset your password"]
        if received:
            found = TOKEN.search(received[-1].body)
            assert found is not None, received[-1].body
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} within {timeout}s")


class TestTwoBrowsers:
    def test_one_browser_revokes_the_others_session(self, browser: Browser, stack: Stack) -> None:
        first, second = browser.new_context(), browser.new_context()
        try:
            laptop, phone = first.new_page(), second.new_page()
            sign_up(laptop, stack, "eve@example.com")
            log_in(laptop, "eve@example.com")
            phone.goto(stack.url("/auth/login"))
            log_in(phone, "eve@example.com")
            expect(phone).to_have_url(re.compile(r"/auth/account$"))

            laptop.goto(stack.url("/auth/account"))
            screenshot(laptop, "account-two-sessions")
            laptop.get_by_role("button", name=re.compile("^Revoke")).click()
            expect(laptop.get_by_role("status")).to_contain_text("The session is ended")

            phone.goto(stack.url("/dashboard"))
            expect(phone).to_have_url(re.compile(r"/auth/login\?next="))
        finally:
            first.close()
            second.close()


# A phone and a desktop: the narrowest common phone width, and a laptop's.
SCREENS = {
    360: (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
    1280: (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/120.0.0.0 Safari/537.36"
    ),
}
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
)
# Every visible element whose box crosses the viewport's left or right edge.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && (box.left < -0.5 || box.right > width + 0.5)) {
      found.push(`${element.tagName} ${element.textContent.trim().slice(0, 30)}`
        + ` ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {width, scrollWidth: document.documentElement.scrollWidth, found};
}"""


def assert_fits(page: Page, width: int, name: str) -> None:
    """Assert no element is wider than the viewport (no sideways scroll); screenshot it."""
    screenshot(page, f"{name}-{width}")
    layout = page.evaluate(OVERFLOWING)
    assert layout["width"] == width, layout
    assert layout["found"] == [], f"{name} at {width} px: {layout}"
    assert layout["scrollWidth"] <= width, layout


class TestLayout:
    @pytest.mark.parametrize("width", list(SCREENS), ids=[f"{w}px" for w in SCREENS])
    def test_every_page_fits_the_screen_without_scrolling_sideways(
        self, browser: Browser, stack: Stack, width: int
    ) -> None:
        email = "a.rather.long.name.for.a.phone@example.com"
        phone = browser.new_context(
            viewport={"width": width, "height": 800},
            user_agent=SCREENS[width],
            is_mobile=width < 600,
            has_touch=width < 600,
        )
        laptop = browser.new_context(user_agent=FIREFOX_ON_WINDOWS)
        try:
            page = phone.new_page()
            page.goto(stack.url("/auth/signup"))
            assert_fits(page, width, "signup")
            sign_up(page, stack, email)
            assert_fits(page, width, "login")
            log_in(page, email, "not the password")
            assert_fits(page, width, "login-error")
            log_in(page, email)
            expect(page).to_have_url(re.compile(r"/auth/account$"))

            other = laptop.new_page()
            other.goto(stack.url("/auth/login"))
            log_in(other, email)
            page.reload()
            expect(page.get_by_text("Firefox on Windows", exact=True)).to_be_visible()
            assert_fits(page, width, "account")
            expect(page.get_by_role("button", name=re.compile("^Revoke"))).to_be_in_viewport()

            page.goto(stack.url("/auth/forgot"))
            assert_fits(page, width, "forgot")
            page.get_by_label("Email").fill(email)
            page.get_by_role("button", name="Send the link").click()
            page.goto(stack.url(f"/auth/reset?token={wait_for_token(stack.mail, email)}"))
            assert_fits(page, width, "reset")
            page.goto(stack.url("/auth/reset?token=not-a-live-token"))
            expect(page.get_by_role("alert")).to_contain_text("invalid or has expired")
            assert_fits(page, width, "reset-dead-link")
        finally:
            phone.close()
            laptop.close()


class _CrossSiteForm(BaseHTTPRequestHandler):
    """Another site's page that posts a form (its fields given by the test) to userauth."""

    target = ""
    fields: dict[str, str] = {}  # noqa: RUF012 - set by each test before serving

    def do_GET(self) -> None:
        inputs = "".join(f'<input name="{k}" value="{v}">' for k, v in self.fields.items())
        body = (
            f'<form method="post" action="{self.target}">{inputs}'
            '<button type="submit">Win a prize</button></form>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def submit_from_another_site(page: Page, target: str, fields: dict[str, str]) -> None:
    """Open another site's page holding a form that posts `fields` to `target`; submit it."""
    _CrossSiteForm.target, _CrossSiteForm.fields = target, fields
    evil = ThreadingHTTPServer(("127.0.0.1", free_port()), _CrossSiteForm)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        # "localhost" is another site than "127.0.0.1" for the browser.
        page.goto(f"http://localhost:{evil.server_address[1]}/")
        page.get_by_role("button", name="Win a prize").click()
        page.wait_for_load_state()
    finally:
        evil.shutdown()
        evil.server_close()


class TestCrossSite:
    def test_a_form_posted_from_another_site_is_refused(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "fay@example.com")
        log_in(page, "fay@example.com")
        submit_from_another_site(
            page,
            stack.url("/auth/account/password"),
            {"password": "x", "new_password": "hijacked pw"},
        )
        assert page.url.startswith(stack.url("/auth/"))
        assert "hijacked" not in page.content()
        api = f"{stack.userauth.url}/sessions"
        kept = {"email": "fay@example.com", "password": PASSWORD}
        assert requests.post(api, data=kept, timeout=10).status_code == 200
        forged = {"email": "fay@example.com", "password": "hijacked pw"}
        assert requests.post(api, data=forged, timeout=10).status_code == 401

    def test_another_site_cannot_log_the_visitor_into_its_own_account(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "mallory@example.com")
        submit_from_another_site(
            page, stack.url("/sessions"), {"email": "mallory@example.com", "password": PASSWORD}
        )
        assert "cross-site request refused" in page.content()
        page.goto(stack.url("/auth/account"))
        expect(page).to_have_url(re.compile(r"/auth/login"))
