"""Re-authenticating with a passkey (issue 25, hostile review item 4), with the software
authenticator of tests/authenticator.py: an account without a password regains "recent
authentication" without logging in again, with its own passkeys only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.authenticator import SoftAuthenticator, b64url
from tests.conftest import FakeClock
from tests.passkeys import (
    ORIGIN,
    OTHER_EMAIL,
    add_passkey,
    events,
    options_of,
    passkey_login,
    refused,
)
from tests.second_factor import EMAIL, PASSWORD, sign_up_and_log_in
from tests.test_pages import submit
from userauth.auth import Auth
from userauth.settings import RateLimitSettings
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")

OPTIONS = "/sessions/reauthenticate/passkey/options"
FINISH = "/sessions/reauthenticate/passkey"


def sign_up_with_passkey(client: FlaskClient, authenticator: SoftAuthenticator) -> None:
    options = options_of(client.post("/users/passkey/options", data={"email": EMAIL}))
    credential = authenticator.create(options, ORIGIN)
    assert client.post("/users/passkey", json={"credential": credential}).status_code == 200


def reauthenticate(
    client: FlaskClient, authenticator: SoftAuthenticator, **tweaks: Any
) -> TestResponse:
    options = options_of(client.post(OPTIONS))
    assertion = authenticator.get(options, tweaks.pop("origin", ORIGIN), **tweaks)
    return client.post(FINISH, json={"credential": assertion})


def authenticated_at(client: FlaskClient) -> str:
    [current] = [s for s in client.get("/sessions").json["sessions"] if s["current"]]  # type: ignore[index]
    return str(current["authenticated_at"])


@pytest.fixture
def phone() -> SoftAuthenticator:
    return SoftAuthenticator()


class TestReauthenticatingWithAPasskey:
    def test_an_account_without_a_password_regains_recent_authentication(
        self, client: FlaskClient, auth: Auth, phone: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up_with_passkey(client, phone)
        clock.advance(minutes=11)
        refused(client.put("/profile/password", data={"new_password": PASSWORD}), 401)

        answer = reauthenticate(client, phone)

        assert (answer.status_code, answer.json) == (200, {"message": "re-authenticated"})
        assert authenticated_at(client) == clock().isoformat()
        assert events(auth)[0] == "reauthenticated"
        assert client.put("/profile/password", data={"new_password": PASSWORD}).status_code == 200

    def test_the_options_allow_only_the_accounts_passkeys_with_user_verification(
        self, client: FlaskClient, app: Flask, phone: SoftAuthenticator
    ) -> None:
        other = app.test_client()
        sign_up_and_log_in(other, OTHER_EMAIL)
        add_passkey(other, SoftAuthenticator())
        sign_up_with_passkey(client, phone)

        options = options_of(client.post(OPTIONS))

        [mine] = phone.credentials
        assert [c["id"] for c in options["allowCredentials"]] == [b64url(mine.id)]
        assert options["userVerification"] == "required"

    def test_another_accounts_passkey_is_refused_and_audited(
        self,
        client: FlaskClient,
        app: Flask,
        auth: Auth,
        phone: SoftAuthenticator,
        clock: FakeClock,
    ) -> None:
        stranger = SoftAuthenticator()
        other = app.test_client()
        sign_up_and_log_in(other, OTHER_EMAIL)
        add_passkey(other, stranger)
        sign_up_with_passkey(client, phone)
        before = authenticated_at(client)
        clock.advance(minutes=11)

        answer = reauthenticate(client, stranger, credential=stranger.credentials[0])

        refused(answer, 401)
        assert authenticated_at(client) == before
        assert events(auth)[0] == "reauthentication_failed"

    def test_a_challenge_is_used_once(self, client: FlaskClient, phone: SoftAuthenticator) -> None:
        sign_up_with_passkey(client, phone)
        options = options_of(client.post(OPTIONS))
        assertion = phone.get(options, ORIGIN)
        assert client.post(FINISH, json={"credential": assertion}).status_code == 200

        refused(client.post(FINISH, json={"credential": assertion}), 401)

    def test_another_sessions_challenge_is_refused(
        self, client: FlaskClient, app: Flask, phone: SoftAuthenticator
    ) -> None:
        sign_up_with_passkey(client, phone)
        other_device = app.test_client()
        assert passkey_login(other_device, phone).status_code == 200
        options = options_of(client.post(OPTIONS))
        assertion = phone.get(options, ORIGIN)

        refused(other_device.post(FINISH, json={"credential": assertion}), 401)

    def test_a_login_challenge_does_not_re_authenticate(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up_with_passkey(client, phone)
        options = options_of(client.post("/sessions/passkey/options"))
        assertion = phone.get(options, ORIGIN)

        refused(client.post(FINISH, json={"credential": assertion}), 401)

    def test_an_expired_challenge_is_refused(
        self, client: FlaskClient, phone: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up_with_passkey(client, phone)
        options = options_of(client.post(OPTIONS))
        clock.advance(minutes=5, seconds=1)
        assertion = phone.get(options, ORIGIN)

        refused(client.post(FINISH, json={"credential": assertion}), 401)

    def test_a_response_for_another_site_is_refused(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up_with_passkey(client, phone)

        refused(reauthenticate(client, phone, origin="https://evil.example"), 401)
        refused(reauthenticate(client, phone, rp_id="evil.example"), 401)

    @pytest.mark.parametrize(
        "credential",
        ["x", {}, {"id": "AAAA", "response": {}}, {"id": "AAAA", "response": []}],
        ids=["not-an-object", "empty", "no-client-data", "response-a-list"],
    )
    def test_bad_input_is_a_4xx_never_a_500(
        self, client: FlaskClient, phone: SoftAuthenticator, credential: Any
    ) -> None:
        sign_up_with_passkey(client, phone)
        client.post(OPTIONS)

        answer = client.post(FINISH, json={"credential": credential})

        assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)

    def test_failures_count_in_the_sessions_re_authentication_limit_and_a_success_clears_it(
        self, make_auth: Callable[..., Auth], phone: SoftAuthenticator
    ) -> None:
        auth = make_auth(RateLimitSettings(login_failures="3/minute"))
        client = create_app(auth.settings, auth).test_client()
        sign_up_with_passkey(client, phone)
        for _ in range(2):
            refused(reauthenticate(client, phone, origin="https://evil.example"), 401)
        assert reauthenticate(client, phone).status_code == 200  # the third: cleared after

        statuses = [
            reauthenticate(client, phone, origin="https://evil.example").status_code
            for _ in range(4)
        ]

        assert statuses == [401, 401, 401, 429]

    def test_it_needs_a_session(self, client: FlaskClient) -> None:
        refused(client.post(OPTIONS), 403)
        refused(client.post(FINISH, json={"credential": {}}), 403)


class TestTheReauthenticationPage:
    """What passkeys.js does on the page asking again: the API proves the passkey, then the
    page's passkey form posts the action with its token alone."""

    def test_an_account_with_a_passkey_is_offered_it_and_the_action_then_goes_on(
        self, client: FlaskClient, phone: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up_with_passkey(client, phone)
        clock.advance(minutes=11)
        asked = submit(client, "/auth/account/totp", "/auth/account")
        assert asked.status_code == 401
        page = asked.get_data(as_text=True)
        assert (
            '<form method="post" action="/auth/account/totp" id="passkey-reauthenticate"' in page
        )
        assert "passkeys.js" in page

        assert reauthenticate(client, phone).status_code == 200
        went_on = submit(client, "/auth/account/totp", "/auth/account")

        assert went_on.status_code == 200
        assert 'id="totp-key"' in went_on.get_data(as_text=True)

    def test_an_account_without_a_passkey_is_not_offered_one(
        self, client: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up_and_log_in(client)
        clock.advance(minutes=11)

        asked = submit(client, "/auth/account/totp", "/auth/account")

        assert asked.status_code == 401
        assert "passkey-reauthenticate" not in asked.get_data(as_text=True)
