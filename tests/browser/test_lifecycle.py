"""The account lifecycle's pages in a real browser (issue 26): the verification link's
button, a change of email from the account page to the new address's link, an invitation's
sign-up, and deleting the account. Debian's Chromium, driven by Playwright, through nginx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack, screenshot
from tests.browser.test_pages import PASSWORD, log_in, sign_up
from tests.conftest import ServerProcess
from tests.proxy_servers import start_nginx, upstream
from tests.smtp import PRODUCTION_BCRYPT_ROUNDS, TEST_ENCRYPTION_KEY, MailSink

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]

LINK = re.compile(r"https://\S+")


def wait_for_link(mail: MailSink, address: str, subject: str, timeout: float = 20) -> str:
    """Return the path and query of the link in the newest mail of this subject."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mail.to(address) if str(m.message["Subject"]) == subject]
        if found:
            link = LINK.search(found[-1].body)
            assert link is not None, found[-1].body
            parts = urlsplit(link.group(0))
            return f"{parts.path}?{parts.query}"
        time.sleep(0.1)
    raise AssertionError(f"no {subject!r} mail to {address} within {timeout}s")


class TestVerification:
    def test_the_mailed_link_opens_a_page_whose_button_verifies(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "vera@example.com")
        path = wait_for_link(stack.mail, "vera@example.com", "Verify your email address")
        page.goto(stack.url(path))
        screenshot(page, "verify-email")
        page.get_by_role("button", name="Verify my email address").click()
        expect(page.get_by_role("status")).to_contain_text("Your email address is verified")
        log_in(page, "vera@example.com")
        expect(page.get_by_text("verified.", exact=False)).to_be_visible()
        expect(page.get_by_text("not verified yet")).to_have_count(0)


class TestChangeOfEmail:
    def test_the_account_page_asks_and_the_new_addresss_link_applies(
        self, page: Page, stack: Stack
    ) -> None:
        sign_up(page, stack, "carl@example.com")
        log_in(page, "carl@example.com")
        page.locator("#new_email").fill("carl.new@example.com")
        page.locator("#email_password").fill(PASSWORD)
        page.get_by_role("button", name="Change the email address").click()
        expect(page.get_by_role("status")).to_contain_text("A link is on its way")
        path = wait_for_link(stack.mail, "carl.new@example.com", "Confirm your new email address")
        page.goto(stack.url(path))
        screenshot(page, "confirm-email")
        page.get_by_role("button", name="Use this email address").click()
        expect(page.get_by_role("status")).to_contain_text("Your account now uses")
        page.goto(stack.url("/auth/account"))
        expect(page.get_by_text("carl.new@example.com").first).to_be_visible()

    def test_a_wrong_password_is_shown_next_to_its_field(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "cora@example.com")
        log_in(page, "cora@example.com")
        page.locator("#new_email").fill("cora.new@example.com")
        page.locator("#email_password").fill("not the password")
        page.get_by_role("button", name="Change the email address").click()
        expect(page.locator("#email_password-error")).to_contain_text("password")


class TestInvitation:
    def test_an_invitations_link_signs_up_a_verified_account(
        self, page: Page, stack: Stack, database_url: str
    ) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "userauth", "user", "invite", "ivy@example.com"],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        invitation = urlsplit(done.stdout.strip().splitlines()[-1]).query
        page.goto(stack.url(f"/auth/signup?{invitation}"))
        screenshot(page, "signup-invited")
        sign_up_here(page, "ivy@example.com")
        log_in(page, "ivy@example.com")
        expect(page.get_by_text("verified.", exact=False)).to_be_visible()


def sign_up_here(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("status")).to_contain_text("Your account is ready")


class TestLeaving:
    def test_the_account_page_deletes_the_account(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "dora@example.com")
        log_in(page, "dora@example.com")
        screenshot(page, "account-lifecycle")
        page.locator("#leave_password").fill(PASSWORD)
        page.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_role("status")).to_contain_text("Your account and everything")
        page.goto(stack.url("/dashboard"))
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))
        log_in(page, "dora@example.com")
        expect(page.locator("#password-error")).to_have_text("wrong email or password")


@pytest.fixture
def strict_stack(
    start_server: Callable[..., ServerProcess], mail: MailSink, tmp_path: Path
) -> Iterator[Stack]:
    """The browser stack (conftest.stack) with verified emails required and sign-up by
    invitation only."""
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
        USERAUTH_EMAIL_VERIFICATION="required",
        USERAUTH_SIGNUP="invite",
    )
    with upstream() as app_port:
        proxy = start_nginx(tmp_path, userauth.port, app_port)
        try:
            yield Stack(userauth, proxy, mail)
        finally:
            proxy.stop()


class TestRequiredAndInviteOnly:
    def test_the_sign_up_page_asks_for_an_invitation(
        self, page: Page, strict_stack: Stack
    ) -> None:
        page.goto(strict_stack.url("/auth/signup"))
        expect(page.get_by_role("alert")).to_contain_text("Sign-up needs an invitation")
        expect(page.get_by_role("button", name="Create the account")).to_have_count(0)
        screenshot(page, "signup-invite-only")

    def test_an_unverified_login_is_refused_until_the_mailed_link_is_used(
        self, page: Page, strict_stack: Stack, database_url: str
    ) -> None:
        subprocess.run(
            [sys.executable, "-m", "userauth", "user", "create", "uma@example.com"],
            env={**os.environ, "DATABASE_URL": database_url},
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        page.goto(strict_stack.url("/auth/login"))
        log_in(page, "uma@example.com")
        expect(page.locator("#email-error")).to_contain_text("not verified")
        screenshot(page, "login-unverified")
        path = wait_for_link(strict_stack.mail, "uma@example.com", "Verify your email address")
        page.goto(strict_stack.url(path))
        page.get_by_role("button", name="Verify my email address").click()
        log_in(page, "uma@example.com")
        expect(page).to_have_url(re.compile(r"/auth/account$"))


class TestExport:
    def test_the_account_page_downloads_the_accounts_data(self, page: Page, stack: Stack) -> None:
        sign_up(page, stack, "ed@example.com")
        log_in(page, "ed@example.com")
        page.locator("#leave_password").fill(PASSWORD)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        saved = download.value.path()
        assert download.value.suggested_filename == "userauth-account.json"
        assert '"email": "ed@example.com"' in Path(saved).read_text()
