"""Accounts without a password (issue 25 item 4): signing up with a passkey, adding a
password later, and production's answer to a taken email."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.authenticator import SoftAuthenticator
from tests.conftest import FakeClock
from tests.passkeys import ORIGIN, options_of, passkey_login, refused
from tests.second_factor import EMAIL, PASSWORD, password_step
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.auth import Auth

pytestmark = pytest.mark.databases("sqlite")

SITE = "https://auth.example.com"  # production's relying party in tests/smtp.py


def sign_up(
    client: FlaskClient, authenticator: SoftAuthenticator, email: str = EMAIL, origin: str = ORIGIN
) -> TestResponse:
    options = options_of(client.post("/users/passkey/options", data={"email": email}))
    credential = authenticator.create(options, origin)
    return client.post("/users/passkey", json={"credential": credential})


@pytest.fixture
def phone() -> SoftAuthenticator:
    return SoftAuthenticator()


class TestSigningUpWithAPasskey:
    def test_the_account_is_made_with_the_passkey_alone_and_logged_in(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        answer = sign_up(client, phone)

        assert answer.status_code == 200, answer.json
        assert answer.json == {"email": EMAIL, "message": "user created"}
        assert client.get("/profile").json == {"email": EMAIL}
        assert len(client.get("/passkeys").json["passkeys"]) == 1  # type: ignore[index]

    def test_it_logs_in_with_the_passkey_and_never_with_a_password(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)
        client.delete("/sessions")

        for password in ("x", PASSWORD):
            login = client.post("/sessions", data={"email": EMAIL, "password": password})
            assert login.status_code == 401
        assert passkey_login(client, phone).status_code == 200

    def test_a_taken_email_is_refused_in_development_and_nothing_is_stored(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})

        answer = client.post("/users/passkey/options", data={"email": EMAIL})

        refused(answer, 400)
        assert answer.json == {"message": "email already registered"}

    @pytest.mark.parametrize("email", ["", "not an email"], ids=["empty", "malformed"])
    def test_a_bad_email_is_a_400(self, client: FlaskClient, email: str) -> None:
        refused(client.post("/users/passkey/options", data={"email": email}), 400)

    @pytest.mark.parametrize("origin", [ORIGIN, "https://evil.example"], ids=["replay", "origin"])
    def test_a_refused_sign_up_is_audited_without_the_email(
        self, client: FlaskClient, auth: Auth, phone: SoftAuthenticator, origin: str
    ) -> None:
        options = options_of(client.post("/users/passkey/options", data={"email": EMAIL}))
        credential = phone.create(options, origin)
        if origin == ORIGIN:  # the challenge is spent by a first, good sign-up
            first = client.post("/users/passkey", json={"credential": credential})
            assert first.status_code == 200

        refused(client.post("/users/passkey", json={"credential": credential}), 400)

        [failed] = [e for e in auth.db.list_audit_events() if e.event == "passkey_signup_failed"]
        assert (failed.user_id, failed.email) == (None, None)

    def test_a_replayed_registration_makes_nothing(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        options = options_of(client.post("/users/passkey/options", data={"email": EMAIL}))
        credential = phone.create(options, ORIGIN)
        assert client.post("/users/passkey", json={"credential": credential}).status_code == 200

        refused(client.post("/users/passkey", json={"credential": credential}), 400)

    def test_the_last_passkey_of_the_account_cannot_be_removed(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)
        [passkey] = client.get("/passkeys").json["passkeys"]  # type: ignore[index]

        refused(client.delete(f"/passkeys/{passkey['id']}"), 409)
        assert passkey_login(client, phone).status_code == 200


class TestAddingAPassword:
    def test_the_first_password_needs_no_current_one_and_then_a_passkey_follows_it(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)

        answer = client.put("/profile/password", data={"new_password": PASSWORD})

        assert answer.status_code == 200, answer.json
        client.delete("/sessions")
        # A passkey makes the password a first factor only.
        assert password_step(client)["factors"] == ["passkey"]

    def test_it_needs_a_recent_authentication(
        self, client: FlaskClient, phone: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up(client, phone)
        clock.advance(minutes=11)

        refused(client.put("/profile/password", data={"new_password": PASSWORD}), 401)

    def test_an_account_with_a_password_must_still_give_it(self, client: FlaskClient) -> None:
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})

        answer = client.put("/profile/password", data={"new_password": "a new password"})

        assert (answer.status_code, answer.json) == (400, {"message": "password is required"})

    def test_a_password_reset_sets_one(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)
        client.delete("/sessions")
        token = client.post("/reset_password", data={"email": EMAIL}).json["reset_token"]  # type: ignore[index]

        reset = client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": PASSWORD},
        )

        assert reset.status_code == 200
        assert password_step(client)["factors"] == ["passkey"]


@pytest.fixture
def production(make_service: ServiceFactory) -> Service:
    return make_service("production", hash_rounds=4)


def production_sign_up(client: FlaskClient, authenticator: SoftAuthenticator) -> TestResponse:
    options_answer = client.post(
        "/users/passkey/options", data={"email": EMAIL}, base_url=SITE, headers={"Origin": SITE}
    )
    options = json.loads(options_answer.get_data(as_text=True))
    assert options["rp"]["id"] == "auth.example.com"
    credential = authenticator.create(options, SITE)
    return client.post(
        "/users/passkey", json={"credential": credential}, base_url=SITE, headers={"Origin": SITE}
    )


class TestProduction:
    def test_a_taken_email_answers_as_a_new_one_registers_nothing_and_mails_the_owner(
        self, production: Service, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        new = production_sign_up(production.client, SoftAuthenticator())
        owner = production.auth.accounts.find(EMAIL)
        assert owner is not None
        production.outbox.join()
        mail.messages.clear()

        taken = production_sign_up(production.client, phone)
        production.outbox.join()

        assert (new.status_code, taken.status_code) == (200, 200)
        assert new.json == taken.json == {"email": EMAIL, "message": "user created"}
        assert len(production.auth.passkeys.list(owner.id)) == 1
        [notice] = mail.messages
        assert notice.recipients == [EMAIL]
        assert "already" in notice.body
