"""Two-factor authentication in a real browser: turn it on, log out, log in with a code.

The codes come from the test's own authenticator, Debian's oathtool (tests/second_factor.py), at
the real time of the served process: never the same time step twice (a code accepted once is
refused after), the next step when the current one is spent (the service accepts one step
either side, RFC 6238 5.2), and never a sleep.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Stack, screenshot
from tests.browser.test_pages import SCREENS, assert_fits, log_in, sign_up
from tests.second_factor import oathtool_code

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]

ACCOUNT = re.compile(r"/auth/account$")
# RFC 6238's time step, in seconds.
STEP_SECONDS = 30


class Authenticator:
    """The test's authenticator app: oathtool's code for the real time, each step once."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.last_step = -1

    def code(self) -> str:
        step = max(int(time.time()) // STEP_SECONDS, self.last_step + 1)
        self.last_step = step
        return oathtool_code(self.key, datetime.fromtimestamp(step * STEP_SECONDS, UTC))


def turn_on(page: Page, shot: str | None = None) -> tuple[Authenticator, list[str]]:
    """From the account page, turn TOTP on; return the authenticator and the recovery codes."""
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("svg.qr")).to_be_visible()
    if shot:
        screenshot(page, shot)
    app = Authenticator(page.locator("#totp-key").inner_text().replace(" ", ""))
    page.get_by_label("Code", exact=True).fill(app.code())
    page.get_by_role("button", name="Turn on", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor authentication is on")
    return app, page.locator("ul.codes code").all_inner_texts()


def log_out(page: Page, stack: Stack) -> None:
    page.goto(stack.url("/auth/account"))
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out")


class TestTotp:
    def test_turn_on_log_out_and_log_in_with_a_code_from_oathtool(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "tia@example.com")
        log_in(page, "tia@example.com")
        expect(page).to_have_url(ACCOUNT)
        app, codes = turn_on(page, shot="totp-setup")
        assert len(codes) == 10
        screenshot(page, "recovery-codes")

        log_out(page, stack)
        page.goto(stack.url("/dashboard"))
        log_in(page, "tia@example.com")
        expect(page).to_have_url(re.compile(r"/auth/login/code\?next="))
        screenshot(page, "login-code")
        page.get_by_label("Code", exact=True).fill(app.code())
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(stack.url("/dashboard"))
        assert '"X-Auth-Request-Email": "tia@example.com"' in page.content()

    def test_the_recovery_codes_download_and_one_logs_in_once(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "uma@example.com")
        log_in(page, "uma@example.com")
        _app, codes = turn_on(page)
        with page.expect_download() as started:
            page.get_by_role("button", name="Download them as a text file").click()
        download = started.value
        assert download.suggested_filename == "recovery-codes.txt"
        assert Path(download.path()).read_text().splitlines()[-10:] == codes

        log_out(page, stack)
        log_in(page, "uma@example.com")
        page.get_by_role("link", name="Use a recovery code instead").click()
        screenshot(page, "login-recovery-code")
        page.get_by_label("Recovery code").fill(codes[0])
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(ACCOUNT)
        expect(page.get_by_text("9 recovery codes left")).to_be_visible()

        log_out(page, stack)
        log_in(page, "uma@example.com")
        page.get_by_role("link", name="Use a recovery code instead").click()
        page.get_by_label("Recovery code").fill(codes[0])
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#code-error")).to_have_text("wrong code")

    def test_turned_off_the_login_asks_for_no_code(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "val@example.com")
        log_in(page, "val@example.com")
        turn_on(page)
        page.get_by_role("link", name="Done: back to your account").click()
        page.get_by_role("button", name="Turn off two-factor authentication").click()
        expect(page.get_by_role("status")).to_contain_text("Two-factor authentication is off")
        log_out(page, stack)
        log_in(page, "val@example.com")
        expect(page).to_have_url(ACCOUNT)


class TestLayout:
    @pytest.mark.parametrize("width", list(SCREENS), ids=[f"{w}px" for w in SCREENS])
    def test_the_two_factor_pages_fit_the_screen(
        self, browser: Browser, stack: Stack, width: int
    ) -> None:
        email = "a.rather.long.name.for.a.phone@example.com"
        phone = browser.new_context(
            viewport={"width": width, "height": 800},
            user_agent=SCREENS[width],
            is_mobile=width < 600,
            has_touch=width < 600,
        )
        try:
            page = phone.new_page()
            sign_up(page, stack, email)
            log_in(page, email)
            page.get_by_role("button", name="Turn on two-factor authentication").click()
            assert_fits(page, width, "totp-setup")
            app = Authenticator(page.locator("#totp-key").inner_text().replace(" ", ""))
            page.get_by_label("Code", exact=True).fill(app.code())
            page.get_by_role("button", name="Turn on", exact=True).click()
            assert_fits(page, width, "recovery-codes")
            page.get_by_role("link", name="Done: back to your account").click()
            assert_fits(page, width, "account-totp")
            page.get_by_role("button", name="Log out").click()
            log_in(page, email)
            assert_fits(page, width, "login-code")
            page.get_by_role("link", name="Use a recovery code instead").click()
            assert_fits(page, width, "login-recovery-code")
        finally:
            phone.close()
