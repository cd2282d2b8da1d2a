"""Back-channel logout (OpenID Back-Channel Logout 1.0): a session that ends anywhere sends
each client it logged into a signed logout token, through the outbox, with retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.authenticator import SoftAuthenticator
from tests.conftest import FakeClock
from tests.oidc_flow import REDIRECT, RegisteredClient, logged_in_browser
from tests.passkeys import add_passkey
from tests.second_factor import enrol
from tests.test_oidc import id_token_claims, tokens_for, userinfo
from tests.test_pages import EMAIL, PASSWORD, log_in, submit
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.oidc.backchannel import EVENT
from userauth.settings import MailSettings
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")


class Receiver:
    """A client's back-channel logout endpoint on loopback: records each logout token; the
    first `failures` requests are answered 503 (the client is down)."""

    def __init__(self, failures: int = 0) -> None:
        self.tokens: list[str] = []
        self.attempts = 0
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(503)
                else:
                    receiver.tokens.extend(form.get("logout_token", []))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_port}/backchannel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for_token(self, auth: Auth, seconds: float = 15) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            auth.outbox.join(timeout=1)
            if self.tokens:
                return self.tokens[0]
            time.sleep(0.05)
        raise AssertionError(f"no logout token after {self.attempts} attempt(s)")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    # Retries come quickly here; production waits USERAUTH_MAIL_RETRY_SECONDS, doubling.
    return make_auth(MailSettings(retry_delay=timedelta(milliseconds=100)))


@pytest.fixture
def app(auth: Auth) -> Flask:
    return create_app(auth.settings, auth)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def register_with_backchannel(auth: Auth, uri: str | None) -> RegisteredClient:
    added = auth.oidc.clients.add(
        "Gitea", [REDIRECT], first_party=True, backchannel_logout_uri=uri
    )
    return RegisteredClient(added.client_id, added.client_secret)


def end_by_logout(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    submit(browser, "/auth/logout", "/auth/account")


def end_by_revocation(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    other = browser.application.test_client()
    log_in(other)
    listed = other.get("/sessions").get_json()["sessions"]
    [target] = [s for s in listed if not s["current"]]
    assert other.delete(f"/sessions/{target['id']}").status_code == 200


def end_by_password_change(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    other = browser.application.test_client()
    log_in(other)
    changed = other.put(
        "/profile/password", data={"password": PASSWORD, "new_password": PASSWORD + " new"}
    )
    assert changed.status_code == 200


def end_by_admin(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    Admin(auth).revoke_sessions(EMAIL)


def another_session(browser: FlaskClient) -> FlaskClient:
    other = browser.application.test_client()
    log_in(other)
    return other


def end_by_revoking_others(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    submit(another_session(browser), "/auth/account/sessions/revoke-others", "/auth/account")


def end_by_reset(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    token = auth.get_reset_password_token(EMAIL)
    auth.update_password(token, PASSWORD + " reset")


def end_by_admin_disable(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    Admin(auth).disable_user(EMAIL)


def end_by_admin_deletion(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    Admin(auth).delete_user(EMAIL)


def end_by_account_deletion(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    assert another_session(browser).delete("/account").status_code == 200


def end_by_adding_a_factor(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    enrol(another_session(browser), now)


def end_by_removing_a_factor(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    other = another_session(browser)
    enrol(other, now)
    assert other.delete("/factors/totp").status_code == 200


def end_by_adding_a_passkey(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    assert add_passkey(another_session(browser), SoftAuthenticator()).status_code == 200


def end_by_removing_a_passkey(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    other = another_session(browser)
    assert add_passkey(other, SoftAuthenticator()).status_code == 200
    [passkey] = other.get("/passkeys").get_json()["passkeys"]
    assert other.delete(f"/passkeys/{passkey['id']}").status_code == 200


def end_by_admin_factor_reset(browser: FlaskClient, auth: Auth, now: datetime) -> None:
    Admin(auth).reset_factors(EMAIL)


ENDINGS = {
    "logout": end_by_logout,
    "revoked-from-another-session": end_by_revocation,
    "others-revoked": end_by_revoking_others,
    "password-change": end_by_password_change,
    "password-reset": end_by_reset,
    "admin-revocation": end_by_admin,
    "admin-disable": end_by_admin_disable,
    "admin-deletion": end_by_admin_deletion,
    "account-deletion": end_by_account_deletion,
    "factor-added": end_by_adding_a_factor,
    "factor-removed": end_by_removing_a_factor,
    "passkey-added": end_by_adding_a_passkey,
    "passkey-removed": end_by_removing_a_passkey,
}


class TestBackchannelLogout:
    @pytest.mark.parametrize("end", list(ENDINGS.values()), ids=list(ENDINGS))
    def test_an_ended_session_sends_the_client_a_signed_logout_token(
        self,
        app: Flask,
        auth: Auth,
        receiver: Receiver,
        end: Callable[[FlaskClient, Auth, datetime], None],
        clock: FakeClock,
    ) -> None:
        browser = logged_in_browser(app.test_client())
        client = register_with_backchannel(auth, receiver.uri)
        rp = app.test_client()
        body = tokens_for(browser, rp, client)
        end(browser, auth, clock())
        token = receiver.wait_for_token(auth)
        decoded = jwt.decode(
            token, KeySet.import_key_set(rp.get("/oauth2/jwks").get_json()), algorithms=["RS256"]
        )
        assert decoded.header["typ"] == "logout+jwt"
        claims = decoded.claims
        id_token = id_token_claims(rp, body["id_token"])
        assert (claims["iss"], claims["aud"]) == ("http://localhost", client.client_id)
        assert (claims["sub"], claims["sid"]) == (id_token["sub"], id_token["sid"])
        assert claims["events"] == {EVENT: {}}
        assert "nonce" not in claims
        assert userinfo(rp, body["access_token"])[0] == 401

    def test_an_admin_factor_reset_sends_a_logout_token(
        self, app: Flask, auth: Auth, receiver: Receiver, clock: FakeClock
    ) -> None:
        browser = logged_in_browser(app.test_client())
        enrol(browser, clock())  # the factor is there before the client logs in
        client = register_with_backchannel(auth, receiver.uri)
        body = tokens_for(browser, app.test_client(), client)
        end_by_admin_factor_reset(browser, auth, clock())
        token = receiver.wait_for_token(auth)
        keys = KeySet.import_key_set(app.test_client().get("/oauth2/jwks").get_json())
        claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
        assert claims["sid"] == id_token_claims(app.test_client(), body["id_token"])["sid"]

    def test_the_sid_is_the_sessions_public_id_not_its_secret(
        self, app: Flask, auth: Auth
    ) -> None:
        browser = logged_in_browser(app.test_client())
        client = register_with_backchannel(auth, None)
        body = tokens_for(browser, app.test_client(), client)
        sid = id_token_claims(app.test_client(), body["id_token"])["sid"]
        [listed] = browser.get("/sessions").get_json()["sessions"]
        assert sid == listed["id"]
        assert sid != browser.get_cookie(auth.settings.session_cookie_name).value  # type: ignore[union-attr]

    def test_discovery_advertises_back_channel_logout_with_sessions_only(self, app: Flask) -> None:
        metadata = app.test_client().get("/.well-known/openid-configuration").get_json()
        assert metadata["backchannel_logout_supported"] is True
        assert metadata["backchannel_logout_session_supported"] is True
        assert not any(name.startswith("frontchannel") for name in metadata)

    def test_a_client_that_is_down_gets_it_when_it_is_back(
        self, app: Flask, auth: Auth, clock: FakeClock
    ) -> None:
        down_twice = Receiver(failures=2)
        try:
            browser = logged_in_browser(app.test_client())
            client = register_with_backchannel(auth, down_twice.uri)
            tokens_for(browser, app.test_client(), client)
            end_by_logout(browser, auth, clock())
            assert down_twice.wait_for_token(auth)
            assert down_twice.attempts == 3
        finally:
            down_twice.close()

    def test_a_live_session_sends_nothing_and_keeps_its_tokens(
        self, app: Flask, auth: Auth, receiver: Receiver
    ) -> None:
        browser = logged_in_browser(app.test_client())
        client = register_with_backchannel(auth, receiver.uri)
        rp = app.test_client()
        body = tokens_for(browser, rp, client)
        other = app.test_client()
        log_in(other)
        submit(other, "/auth/logout", "/auth/account")
        auth.outbox.join(timeout=2)
        assert receiver.attempts == 0
        assert userinfo(rp, body["access_token"])[0] == 200

    def test_a_client_without_a_backchannel_uri_only_loses_its_tokens(
        self, app: Flask, auth: Auth, clock: FakeClock
    ) -> None:
        browser = logged_in_browser(app.test_client())
        client = register_with_backchannel(auth, None)
        rp = app.test_client()
        body = tokens_for(browser, rp, client)
        end_by_logout(browser, auth, clock())
        assert auth.outbox.pending() == 0
        assert userinfo(rp, body["access_token"])[0] == 401


class TestAfterTheCommit:
    """The store tells its listeners after the commit: what a listener does cannot undo,
    repeat or fail the change that committed (a review's finding)."""

    def test_a_client_down_when_its_account_is_deleted_still_gets_its_logout_token(
        self, app: Flask, auth: Auth, clock: FakeClock
    ) -> None:
        down_once = Receiver(failures=1)
        try:
            browser = logged_in_browser(app.test_client())
            client = register_with_backchannel(auth, down_once.uri)
            tokens_for(browser, app.test_client(), client)
            Admin(auth).disable_user(EMAIL)  # the sweep's job is queued, its tokens revoked
            deadline = time.monotonic() + 15
            while down_once.attempts == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert down_once.attempts == 1  # refused once: the job waits for its retry

            Admin(auth).delete_user(EMAIL)

            assert down_once.wait_for_token(auth)
        finally:
            down_once.close()

    def test_a_failing_listener_leaves_the_logout_committed_and_answered(
        self, app: Flask, auth: Auth, receiver: Receiver, caplog: pytest.LogCaptureFixture
    ) -> None:
        browser = logged_in_browser(app.test_client())
        client = register_with_backchannel(auth, receiver.uri)
        tokens_for(browser, app.test_client(), client)

        def fails(_users: set[int], _ended: object) -> None:
            raise RuntimeError("listener down")

        auth.db.on_commit(fails)

        answer = browser.delete("/sessions")

        assert answer.status_code == 302  # the design's logout: redirected home
        assert browser.get("/profile").status_code == 403
        assert receiver.wait_for_token(auth)  # the other listener still ran
        assert "a listener of committed session changes failed" in caplog.text

    def test_a_listener_that_loses_its_connection_does_not_rerun_the_change(
        self, app: Flask, auth: Auth
    ) -> None:
        from sqlalchemy.exc import OperationalError

        browser = logged_in_browser(app.test_client())
        calls: list[set[int]] = []

        def drops_its_connection(users: set[int], _ended: object) -> None:
            calls.append(users)
            raise OperationalError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)

        auth.db.on_commit(drops_its_connection)
        other = app.test_client()
        log_in(other)
        [target] = [s for s in other.get("/sessions").get_json()["sessions"] if not s["current"]]
        calls.clear()

        answer = other.delete(f"/sessions/{target['id']}")

        assert answer.status_code == 200, answer.get_json()
        assert len(calls) == 1
        assert browser.get("/profile").status_code == 403
