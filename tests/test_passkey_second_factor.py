"""A passkey as the second factor of a password login, and managing an account's passkeys
(issue 25), through the API with tests/authenticator.py's software authenticator."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.authenticator import SoftAuthenticator, b64url
from tests.conftest import FakeClock
from tests.passkeys import (
    CHALLENGE,
    ORIGIN,
    OTHER_EMAIL,
    add_passkey,
    events,
    options_of,
    passkey_login,
    refused,
    register_and_log_out,
    session_factors,
)
from tests.second_factor import EMAIL, PASSWORD, enrol, password_step, sign_up_and_log_in
from tests.test_cli import userauth
from userauth.auth import Auth
from userauth.settings import RateLimitSettings
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")


@pytest.fixture
def laptop(client: FlaskClient) -> SoftAuthenticator:
    """EMAIL's passkey; the client is logged out."""
    authenticator = SoftAuthenticator()
    register_and_log_out(client, authenticator)
    return authenticator


@pytest.fixture
def other_phone(app: Flask) -> SoftAuthenticator:
    """OTHER_EMAIL's passkey, on another device."""
    authenticator = SoftAuthenticator()
    device = app.test_client()
    sign_up_and_log_in(device, OTHER_EMAIL)
    assert add_passkey(device, authenticator).status_code == 200
    return authenticator


class TestSecondFactor:
    def test_a_password_then_the_passkey_logs_in_with_three_methods(
        self, app: Flask, laptop: SoftAuthenticator, other_phone: SoftAuthenticator
    ) -> None:
        device = app.test_client()
        assert password_step(device) == {
            "message": "second factor required",
            "factors": ["passkey"],
        }
        pending = device.get_cookie(CHALLENGE)
        options = options_of(device.post("/sessions/passkey/options"))

        # Only this account's passkey is offered, under the pending login's own cookie.
        assert [c["id"] for c in options["allowCredentials"]] == [b64url(laptop.credentials[0].id)]
        assert device.get_cookie(CHALLENGE).value == pending.value  # type: ignore[union-attr]
        answer = device.post("/sessions/passkey", json={"credential": laptop.get(options, ORIGIN)})

        assert answer.status_code == 200, answer.json
        assert answer.json == {"email": EMAIL, "message": "logged in"}
        assert session_factors(device) == (["pwd", "hwk", "user"], 200)

    def test_another_accounts_passkey_cannot_complete_the_pending_login(
        self, app: Flask, laptop: SoftAuthenticator, other_phone: SoftAuthenticator, auth: Auth
    ) -> None:
        device = app.test_client()
        password_step(device)
        options = options_of(device.post("/sessions/passkey/options"))
        assertion = other_phone.get({**options, "allowCredentials": []}, ORIGIN)

        refused(device.post("/sessions/passkey", json={"credential": assertion}), 401)
        assert device.get_cookie("session_id") is None
        assert "passkey_login_failed" in events(auth)

    def test_another_accounts_passkey_cannot_claim_this_accounts_user_handle(
        self, app: Flask, laptop: SoftAuthenticator, other_phone: SoftAuthenticator
    ) -> None:
        device = app.test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        assertion = other_phone.get(options, ORIGIN)
        assertion["response"]["userHandle"] = b64url(laptop.credentials[0].user_handle)

        refused(device.post("/sessions/passkey", json={"credential": assertion}), 401)
        assert device.get_cookie("session_id") is None

    def test_an_account_with_totp_and_a_passkey_offers_both(
        self, client: FlaskClient, app: Flask, clock: FakeClock
    ) -> None:
        sign_up_and_log_in(client)
        enrol(client, clock())
        add_passkey(client, SoftAuthenticator())

        assert password_step(app.test_client())["factors"] == ["totp", "recovery_code", "passkey"]

    def test_a_code_is_never_taken_as_a_passkey(
        self, app: Flask, laptop: SoftAuthenticator
    ) -> None:
        device = app.test_client()
        password_step(device)

        answer = device.post("/sessions/second-factor", data={"code": "123456"})

        assert answer.status_code == 401
        assert device.get_cookie("session_id") is None


class TestManaging:
    def test_rename_then_remove_a_passkey(self, client: FlaskClient, auth: Auth) -> None:
        sign_up_and_log_in(client)
        passkey_id = add_passkey(client, SoftAuthenticator()).json["id"]  # type: ignore[index]

        renamed = client.patch(f"/passkeys/{passkey_id}", json={"name": "Work laptop"})
        assert renamed.status_code == 200
        assert client.get("/passkeys").json["passkeys"][0]["name"] == "Work laptop"  # type: ignore[index]
        removed = client.delete(f"/passkeys/{passkey_id}")

        assert removed.status_code == 200
        assert client.get("/passkeys").json == {"passkeys": []}
        assert {"passkey_added", "passkey_renamed", "passkey_removed"} <= set(events(auth))

    def test_a_removed_passkey_logs_in_no_more(self, client: FlaskClient, app: Flask) -> None:
        phone = SoftAuthenticator()
        sign_up_and_log_in(client)
        passkey_id = add_passkey(client, phone).json["id"]  # type: ignore[index]
        client.delete(f"/passkeys/{passkey_id}")

        refused(passkey_login(app.test_client(), phone), 401)

    def test_another_accounts_passkey_is_not_found(self, client: FlaskClient, app: Flask) -> None:
        sign_up_and_log_in(client)
        passkey_id = add_passkey(client, SoftAuthenticator()).json["id"]  # type: ignore[index]
        stranger = app.test_client()
        sign_up_and_log_in(stranger, OTHER_EMAIL)

        refused(stranger.patch(f"/passkeys/{passkey_id}", json={"name": "mine"}), 404)
        refused(stranger.delete(f"/passkeys/{passkey_id}"), 404)
        assert len(client.get("/passkeys").json["passkeys"]) == 1  # type: ignore[index]

    def test_adding_and_removing_need_a_recent_authentication(
        self, client: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up_and_log_in(client)
        passkey_id = add_passkey(client, SoftAuthenticator()).json["id"]  # type: ignore[index]
        clock.advance(minutes=11)

        refused(client.post("/passkeys/registration/options"), 401)
        refused(client.delete(f"/passkeys/{passkey_id}"), 401)
        assert len(client.get("/passkeys").json["passkeys"]) == 1  # type: ignore[index]

    def test_adding_a_passkey_ends_the_other_sessions(
        self, client: FlaskClient, app: Flask
    ) -> None:
        sign_up_and_log_in(client)
        other = app.test_client()
        other.post("/sessions", data={"email": EMAIL, "password": PASSWORD})

        add_passkey(client, SoftAuthenticator())

        assert other.get("/profile").status_code == 403
        assert client.get("/profile").status_code == 200

    def test_reset_factors_removes_the_passkeys(
        self, auth: Auth, app: Flask, laptop: SoftAuthenticator, database_url: str
    ) -> None:
        done = userauth("user", "reset-factors", EMAIL, database_url=database_url)

        assert done.returncode == 0, done.stderr
        assert "Removed the second factors" in done.stdout

        refused(passkey_login(app.test_client(), laptop), 401)
        device = app.test_client()
        assert (
            device.post("/sessions", data={"email": EMAIL, "password": PASSWORD}).status_code
            == 200
        )


class TestRateLimits:
    def test_passkey_logins_are_limited_per_address_as_password_logins(
        self, make_auth: Callable[..., Auth], laptop: SoftAuthenticator
    ) -> None:
        auth = make_auth(RateLimitSettings(login="3/minute"))
        device = create_app(auth.settings, auth).test_client()
        options = options_of(device.post("/sessions/passkey/options"))
        assertion = laptop.get(options, ORIGIN)
        device.post("/sessions/passkey", json={"credential": assertion})
        device.post("/sessions/passkey", json={"credential": assertion})

        limited = device.post("/sessions/passkey", json={"credential": assertion})

        assert limited.status_code == 429
