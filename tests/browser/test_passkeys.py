"""Passkeys in a real browser (issue 25): Chromium's own virtual authenticator (DevTools'
WebAuthn domain: ctap2, internal, resident keys, user verification) against userauth in
production behind the README's nginx snippet, on http://localhost (a secure context, and a
host name: an IP address cannot be an RP ID)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import Stack
from tests.browser.test_pages import PASSWORD, log_in, sign_up
from tests.conftest import ServerProcess, free_port
from tests.proxy_servers import (
    NGINX_MAIN,
    README_SITE,
    ProxyProcess,
    localize,
    need_binary,
    readme_snippet,
    upstream,
)
from tests.smtp import PRODUCTION_BCRYPT_ROUNDS, TEST_ENCRYPTION_KEY, MailSink

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.databases("sqlite")]

ACCOUNT = re.compile(r"^http://localhost:\d+/auth/account$")


def nginx_on(workdir: Path, port: int, userauth_port: int, app_port: int) -> ProxyProcess:
    """The README's nginx snippet on a port chosen beforehand (the origin is a setting)."""
    snippet = localize(
        readme_snippet("nginx"), site=README_SITE, userauth_port=userauth_port,
        upstream_port=app_port,
    )  # fmt: skip
    (workdir / "app.conf").write_text(snippet.replace("listen 80;", f"listen 127.0.0.1:{port};"))
    main = workdir / "nginx.conf"
    main.write_text(NGINX_MAIN.replace("{run}", str(workdir)))
    command = [need_binary("nginx"), "-p", str(workdir), "-c", str(main)]
    proxy = ProxyProcess([*command, "-e", str(workdir / "error.log")], port, workdir)
    proxy.url = f"http://localhost:{port}"
    return proxy


def production_stack(
    start_server: Callable[..., ServerProcess], mail: MailSink, tmp_path: Path, **extra: str
) -> Iterator[Stack]:
    """userauth in production (the relying party set) behind the README's nginx snippet."""
    port = free_port()
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
        USERAUTH_REDIRECT_HOSTS="localhost",
        USERAUTH_TRUSTED_PROXIES="1",
        USERAUTH_WEBAUTHN_RP_ID="localhost",
        USERAUTH_WEBAUTHN_ORIGINS=f"http://localhost:{port}",
        **extra,
    )
    with upstream() as app_port:
        proxy = nginx_on(tmp_path, port, userauth.port, app_port)
        try:
            yield Stack(userauth, proxy, mail)
        finally:
            proxy.stop()


@pytest.fixture
def stack(
    start_server: Callable[..., ServerProcess], mail: MailSink, tmp_path: Path
) -> Iterator[Stack]:
    yield from production_stack(start_server, mail, tmp_path)


@pytest.fixture
def short_window_stack(
    start_server: Callable[..., ServerProcess], mail: MailSink, tmp_path: Path
) -> Iterator[Stack]:
    """As `stack`, with sensitive actions asking again one minute after a login."""
    yield from production_stack(start_server, mail, tmp_path, USERAUTH_REAUTH_MINUTES="1")


class Device:
    """A page of a browser with its own virtual platform authenticator (DevTools' WebAuthn)."""

    def __init__(self, context: BrowserContext) -> None:
        self.page = context.new_page()
        self._cdp = context.new_cdp_session(self.page)
        self._cdp.send("WebAuthn.enable", {"enableUI": False})
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        answer: dict[str, Any] = self._cdp.send(
            "WebAuthn.addVirtualAuthenticator", {"options": options}
        )
        self.authenticator = answer["authenticatorId"]

    def present(self, present: bool) -> None:
        """Let the authenticator answer by itself (the user touches it), or not."""
        self._cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": self.authenticator, "enabled": present},
        )

    def credentials(self) -> list[dict[str, Any]]:
        answer: dict[str, Any] = self._cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.authenticator}
        )
        return list(answer["credentials"])


@pytest.fixture
def device(context: BrowserContext) -> Device:
    return Device(context)


def sign_up_with_a_passkey(device: Device, stack: Stack, email: str) -> None:
    device.page.goto(stack.url("/auth/signup"))
    device.page.get_by_label("Email").fill(email)
    device.page.get_by_role("button", name="Create a passkey instead of a password").click()
    # Production logs no one in at sign-up: the account page sends to the login page, whose
    # email field asks for a passkey in its autofill (conditional UI), which the virtual
    # authenticator answers: no email or password typed.
    expect(device.page).to_have_url(ACCOUNT)
    assert len(device.credentials()) == 1


class TestPasskeyOnly:
    def test_sign_up_log_in_through_autofill_and_reach_the_two_factor_app(
        self, device: Device, stack: Stack
    ) -> None:
        sign_up_with_a_passkey(device, stack, "pia@example.com")
        expect(device.page.get_by_text("pia@example.com")).to_be_visible()
        # Logged out, the login page's autofill would pick the passkey at once: the person
        # first goes to the app, and picks it on the login page the app sends them to.
        device.present(False)
        device.page.get_by_role("button", name="Log out").click()
        expect(device.page.get_by_role("status")).to_contain_text("You are logged out")
        device.page.goto(stack.url("/admin/reports"))
        expect(device.page).to_have_url(re.compile(r"/auth/login\?next="))
        device.present(True)
        device.page.reload()

        expect(device.page).to_have_url(stack.url("/admin/reports"))
        content = device.page.content()
        assert '"X-Auth-Request-Email": "pia@example.com"' in content
        assert '"X-Auth-Request-AAL": "2"' in content

    def test_another_device_cannot_log_into_the_account(
        self, device: Device, stack: Stack, context: BrowserContext, browser: Any
    ) -> None:
        sign_up_with_a_passkey(device, stack, "pia@example.com")
        other_context = browser.new_context()
        try:
            other = Device(other_context)
            sign_up_with_a_passkey(other, stack, "ola@example.com")
            expect(other.page).to_have_url(ACCOUNT)

            assert other.page.get_by_text("ola@example.com").is_visible()
            assert not other.page.get_by_text("pia@example.com").is_visible()
        finally:
            other_context.close()


class TestSecondFactorAndAccountPage:
    def test_password_then_passkey_and_remove_it_from_the_account_page(
        self, device: Device, stack: Stack
    ) -> None:
        page = device.page
        sign_up(page, stack, "pat@example.com")
        log_in(page, "pat@example.com")
        expect(page).to_have_url(ACCOUNT)
        page.get_by_label("Name of a new passkey").fill("Laptop")
        page.get_by_role("button", name="Add a passkey").click()
        expect(page.locator("li[data-passkey]")).to_have_count(1)

        # The person will type the password instead of picking the passkey in the autofill.
        device.present(False)
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out")
        log_in(page, "pat@example.com", PASSWORD)
        expect(page).to_have_url(re.compile(r"/auth/login/code"))
        device.present(True)
        page.get_by_role("button", name="Use a passkey instead").click()
        expect(page).to_have_url(ACCOUNT)

        page.get_by_role("button", name="Remove the passkey Laptop").click()
        expect(page.locator("li[data-passkey]")).to_have_count(0)


class TestReauthentication:
    def test_the_page_asking_again_takes_the_passkey_and_the_action_goes_on(
        self, device: Device, short_window_stack: Stack
    ) -> None:
        page = device.page
        sign_up_with_a_passkey(device, short_window_stack, "pia@example.com")
        page.wait_for_timeout(61_000)  # past USERAUTH_REAUTH_MINUTES=1: no password to give
        page.get_by_role("button", name="Turn on two-factor authentication").click()
        expect(page.get_by_text("needs a recent login")).to_be_visible()

        page.get_by_role("button", name="Go on with a passkey").click()

        expect(page.locator("#totp-key")).to_be_visible()
