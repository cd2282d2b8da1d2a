"""Accounts without a password (issue 25 item 4): signing up with a passkey, adding a
password later, and production's answer to a taken email."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.authenticator import SoftAuthenticator
from tests.conftest import FakeClock
from tests.lifecycle import mail_to
from tests.passkeys import ORIGIN, add_passkey, events, options_of, passkey_login, refused
from tests.second_factor import EMAIL, PASSWORD, enrol, password_step
from tests.smtp import MailSink, Service, ServiceFactory
from tests.test_email_verification import OPTIONAL, REQUIRED, verification_token
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

        assert reset_password(client).status_code == 200
        assert (
            client.post("/sessions", data={"email": EMAIL, "password": PASSWORD}).status_code
            == 200
        )


def reset_password(client: FlaskClient, password: str = PASSWORD) -> TestResponse:
    """Reset the password of EMAIL's account as the owner of the address (development hands
    the token over in the answer, as the mail would)."""
    token = client.post("/reset_password", data={"email": EMAIL}).json["reset_token"]  # type: ignore[index]
    return client.put(
        "/reset_password",
        data={"email": EMAIL, "reset_token": token, "new_password": password},
    )


def verify_address(service: Service, mail: MailSink) -> None:
    """Verify EMAIL's address with the link mailed on request (POST /email/verification)."""
    assert service.client.post("/email/verification").status_code == 202
    token = verification_token(service, mail, EMAIL)
    assert service.client.put("/email/verification", data={"token": token}).status_code == 200


class TestSigningUpInSomeoneElsesName:
    """Account pre-hijacking: whoever signs up with a passkey in an address' name must lose
    the account to the address' owner at the first password reset."""

    def test_the_owners_reset_removes_the_passkey_of_whoever_signed_up(
        self, client: FlaskClient, auth: Auth, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)  # the attacker's phone, the victim's address
        owner = client.application.test_client()

        assert reset_password(owner).status_code == 200

        assert passkey_login(client.application.test_client(), phone).status_code == 401
        login = owner.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.json  # no second factor left to ask for
        assert "second_factors_reset" in events(auth)

    def test_a_password_and_totp_added_before_the_reset_go_too(
        self, client: FlaskClient, phone: SoftAuthenticator, clock: FakeClock
    ) -> None:
        sign_up(client, phone)
        assert (
            client.put("/profile/password", data={"new_password": "attackers pw"}).status_code
            == 200
        )
        enrol(client, clock())
        owner = client.application.test_client()

        assert reset_password(owner).status_code == 200

        login = owner.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.json
        assert passkey_login(client.application.test_client(), phone).status_code == 401

    def test_passkeys_added_after_the_first_reset_survive_the_next(
        self, client: FlaskClient, phone: SoftAuthenticator
    ) -> None:
        sign_up(client, phone)
        reset_password(client)
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        laptop = SoftAuthenticator()
        assert add_passkey(client, laptop).status_code == 200

        assert reset_password(client, "another good password").status_code == 200

        # The reset never bypasses the second factor of an account whose address is proven.
        login = client.post(
            "/sessions", data={"email": EMAIL, "password": "another good password"}
        )
        assert (login.status_code, login.json["factors"]) == (401, ["passkey"])  # type: ignore[index]


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


class TestAVerifiedPasskeySignUp:
    def test_keeps_its_passkey_through_a_reset(
        self, make_service: ServiceFactory, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        service = make_service("development", mail_to(mail), OPTIONAL)
        assert sign_up(service.client, phone).status_code == 200
        verify_address(service, mail)
        token = service.auth.resets.issue(EMAIL)
        reset = service.client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": PASSWORD},
        )
        assert reset.status_code == 200

        # The address was the passkey's owner's before the reset: it stays the second factor.
        assert password_step(service.client)["factors"] == ["passkey"]
        assert passkey_login(service.app.test_client(), phone).status_code == 200


class TestAPasskeySignUpsAddress:
    """USERAUTH_EMAIL_VERIFICATION applies to accounts made with a passkey as to those made
    with a password (issue 26 item 1): a link on sign-up, and `required` holds off every
    session, a passkey login's included, until the address is proven."""

    def test_optional_mails_the_link_and_the_link_verifies_the_address(
        self, make_service: ServiceFactory, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        service = make_service("development", mail_to(mail), OPTIONAL)

        assert sign_up(service.client, phone).status_code == 200
        token = verification_token(service, mail, EMAIL)

        assert service.client.get("/me").json["email_verified"] is False  # type: ignore[index]
        assert service.client.put("/email/verification", data={"token": token}).status_code == 200
        assert service.client.get("/me").json["email_verified"] is True  # type: ignore[index]

    def test_required_makes_the_account_without_a_session_until_the_link_is_used(
        self, make_service: ServiceFactory, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        service = make_service("development", mail_to(mail), REQUIRED)

        answer = sign_up(service.client, phone)

        assert answer.status_code == 200, answer.json
        assert answer.json == {"email": EMAIL, "message": "user created"}
        assert service.client.get("/profile").status_code == 403
        assert verification_token(service, mail, EMAIL)

    def test_required_refuses_a_passkey_login_on_an_unverified_address(
        self, make_service: ServiceFactory, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        service = make_service("development", mail_to(mail), REQUIRED)
        sign_up(service.client, phone)
        token = verification_token(service, mail, EMAIL)

        refused_login = passkey_login(service.client, phone)

        assert refused_login.status_code == 403
        assert refused_login.json == {"message": "email not verified"}
        assert "session_id" not in refused_login.headers.get("Set-Cookie", "")
        assert service.client.get("/profile").status_code == 403
        assert "login_unverified" in events(service.auth)
        assert service.client.put("/email/verification", data={"token": token}).status_code == 200
        assert passkey_login(service.client, phone).status_code == 200
        assert service.client.get("/profile").json == {"email": EMAIL}

    def test_production_mails_the_new_account_its_link(
        self, make_service: ServiceFactory, mail: MailSink, phone: SoftAuthenticator
    ) -> None:
        production = make_service("production", OPTIONAL, hash_rounds=4)

        assert production_sign_up(production.client, phone).status_code == 200

        production.outbox.join()

        [link] = mail.messages
        assert link.recipients == [EMAIL]
        assert "/auth/verify-email?token=" in link.body
