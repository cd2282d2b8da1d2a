"""Email verification (issue 26, item 1): the link mailed at sign-up and on request, the page
whose button alone spends it, `required`'s refusal, GET /me and the gate's header."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text

from tests.conftest import FakeClock
from tests.lifecycle import (
    EMAIL,
    OTHER,
    PASSWORD,
    csrf_token,
    link_in,
    mail_to,
    mails_with,
    token_mailed,
)
from tests.second_factor import enrol, oathtool_code
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.settings import AccountSettings, RateLimitSettings, Settings, SettingsError
from userauth.settings.production import production_problems

pytestmark = pytest.mark.databases("sqlite")

VERIFY = "Verify your email address"
LINK_SENT = "if your email is not verified yet, a link to verify it has been sent to it"
OPTIONAL = AccountSettings(email_verification="optional")
REQUIRED = AccountSettings(email_verification="required")


def service_with(make_service: ServiceFactory, mail: MailSink, *sections: object) -> Service:
    return make_service("development", mail_to(mail), *sections)  # type: ignore[arg-type]


def sign_up(service: Service, email: str = EMAIL) -> None:
    answer = service.client.post("/users", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.json


def verification_token(
    service: Service, mail: MailSink, email: str = EMAIL, count: int = 1
) -> str:
    return token_mailed(service, mail, email, VERIFY, count)


@pytest.fixture
def service(make_service: ServiceFactory, mail: MailSink) -> Service:
    """Return a development service in `optional` mode where EMAIL has signed up."""
    signed_up = service_with(make_service, mail, OPTIONAL)
    sign_up(signed_up)
    return signed_up


@pytest.fixture
def token(service: Service, mail: MailSink) -> str:
    """Return the verification token mailed to EMAIL at its sign-up."""
    return verification_token(service, mail)


def log_in(service: Service, email: str = EMAIL) -> int:
    answer = service.client.post("/sessions", data={"email": email, "password": PASSWORD})
    return answer.status_code


def me(service: Service) -> dict[str, object]:
    answer = service.client.get("/me")
    assert answer.status_code == 200, answer.json
    body: dict[str, object] = answer.json  # type: ignore[assignment]
    return body


class TestSettings:
    def test_development_defaults_to_off_and_production_to_optional(self) -> None:
        assert Settings.from_env({}).accounts.email_verification == "off"
        production = Settings.from_env({"USERAUTH_ENV": "production"})
        assert production.accounts.email_verification == "optional"

    def test_a_mode_that_is_none_of_the_three_is_refused(self) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_EMAIL_VERIFICATION"):
            Settings.from_env({"USERAUTH_EMAIL_VERIFICATION": "sometimes"})

    def test_production_refuses_a_verification_link_that_is_not_https(self) -> None:
        link = "http://auth.example.com/v?token={token}"
        settings = Settings(env="production", accounts=AccountSettings(verify_email_link=link))
        assert any("USERAUTH_VERIFY_EMAIL_LINK" in p for p in production_problems(settings))

    def test_the_gate_header_is_named_by_a_setting(self) -> None:
        environ = {"USERAUTH_GATE_EMAIL_VERIFIED_HEADER": "X-Verified"}
        assert Settings.from_env(environ).gate.email_verified_header == "X-Verified"


class TestOff:
    def test_sign_up_mails_nothing_and_answers_as_the_design(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = service_with(make_service, mail)
        answer = service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        assert answer.json == {"email": EMAIL, "message": "user created"}
        service.outbox.join()
        assert mail.to(EMAIL) == []
        assert log_in(service) == 200
        assert service.client.get("/profile").json == {"email": EMAIL}


class TestTheLink:
    def test_sign_up_mails_a_link_to_the_verify_page(
        self, mail: MailSink, service: Service, token: str
    ) -> None:
        link, _ = link_in(mails_with(mail, EMAIL, VERIFY)[0])
        assert urlsplit(link).path == "/auth/verify-email"
        assert urlsplit(link).query == f"token={token}"

    def test_opening_the_link_verifies_nothing_only_the_button_does(
        self, service: Service, token: str
    ) -> None:
        assert log_in(service) == 200
        path = f"/auth/verify-email?token={token}"

        shown = service.client.get(path)
        html = shown.get_data(as_text=True)
        assert shown.status_code == 200
        assert html.count("<button") == 1
        assert "default-src 'none'" in shown.headers["Content-Security-Policy"]
        assert me(service)["email_verified"] is False

        pressed = service.client.post(
            "/auth/verify-email",
            data={"csrf_token": csrf_token(service.client, path), "token": token},
        )
        assert pressed.status_code == 302
        assert me(service)["email_verified"] is True

    def test_the_button_without_the_forms_csrf_token_is_refused(
        self, service: Service, token: str
    ) -> None:
        answer = service.client.post("/auth/verify-email", data={"token": token})
        assert answer.status_code == 400
        assert log_in(service) == 200
        assert me(service)["email_verified"] is False

    def test_a_token_verifies_once(self, service: Service, token: str) -> None:
        first = service.client.put("/email/verification", data={"token": token})
        again = service.client.put("/email/verification", data={"token": token})
        assert first.json == {"message": "email verified"}
        assert (again.status_code, again.json) == (403, {"message": "invalid or expired link"})

    def test_a_token_lives_24_hours(self, clock: FakeClock, service: Service, token: str) -> None:
        clock.advance(hours=24, seconds=1)
        answer = service.client.put("/email/verification", data={"token": token})
        assert answer.status_code == 403
        dead = service.client.get(f"/auth/verify-email?token={token}")
        assert dead.status_code == 400
        assert "<button" not in dead.get_data(as_text=True)

    @pytest.mark.databases("sqlite", "postgres")
    def test_only_the_tokens_digest_is_stored(
        self, engine: Engine, service: Service, token: str
    ) -> None:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT digest, payload, purpose FROM one_time_secrets")
            ).all()
        assert [row.purpose for row in rows] == ["email_verification"]
        assert token not in repr(rows)

    def test_a_reset_token_does_not_verify(self, service: Service) -> None:
        reset = service.client.post("/reset_password", data={"email": EMAIL})
        token = reset.json["reset_token"]  # type: ignore[index]
        answer = service.client.put("/email/verification", data={"token": token})
        assert answer.status_code == 403

    def test_a_link_mailed_to_an_address_the_account_left_verifies_nothing(
        self, service: Service, token: str
    ) -> None:
        user = service.auth.accounts.find(EMAIL)
        assert user is not None
        service.auth.db.update_user(user.id, email=OTHER)
        answer = service.client.put("/email/verification", data={"token": token})
        assert answer.status_code == 403
        changed = service.auth.accounts.find(OTHER)
        assert changed is not None
        assert not changed.email_verified

    def test_a_link_opened_while_logged_in_as_another_user_verifies_only_its_own_account(
        self, service: Service, token: str
    ) -> None:
        sign_up(service, OTHER)
        assert log_in(service, OTHER) == 200
        path = f"/auth/verify-email?token={token}"
        service.client.post(
            "/auth/verify-email",
            data={"csrf_token": csrf_token(service.client, path), "token": token},
        )
        assert (me(service)["email"], me(service)["email_verified"]) == (OTHER, False)
        lea = service.auth.accounts.find(EMAIL)
        assert lea is not None
        assert lea.email_verified


class TestOnRequest:
    def test_it_needs_a_session(self, make_service: ServiceFactory, mail: MailSink) -> None:
        service = service_with(make_service, mail, OPTIONAL)
        assert service.client.post("/email/verification").status_code == 403

    def test_a_fresh_link_is_mailed_and_the_older_one_dies(
        self, mail: MailSink, clock: FakeClock, service: Service
    ) -> None:
        first = verification_token(service, mail)
        assert log_in(service) == 200
        clock.advance(minutes=6)
        answer = service.client.post("/email/verification")
        assert (answer.status_code, answer.json) == (202, {"message": LINK_SENT})
        second = verification_token(service, mail, count=2)
        assert service.client.put("/email/verification", data={"token": first}).status_code == 403
        assert service.client.put("/email/verification", data={"token": second}).status_code == 200

    def test_links_are_spaced_five_minutes_apart(self, mail: MailSink, service: Service) -> None:
        verification_token(service, mail)
        assert log_in(service) == 200
        assert service.client.post("/email/verification").status_code == 202
        service.outbox.join()
        assert len(mails_with(mail, EMAIL, VERIFY)) == 1

    def test_asking_is_limited_per_session(self, service: Service) -> None:
        assert log_in(service) == 200
        statuses = [service.client.post("/email/verification").status_code for _ in range(6)]
        assert statuses == [202] * 5 + [429]

    def test_asking_answers_with_rate_limits_off(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = service_with(make_service, mail, OPTIONAL, RateLimitSettings(enabled=False))
        sign_up(service)
        assert log_in(service) == 200
        assert service.client.post("/email/verification").status_code == 202

    def test_a_verified_address_gets_no_more_links(
        self, mail: MailSink, clock: FakeClock, service: Service
    ) -> None:
        service.client.put(
            "/email/verification", data={"token": verification_token(service, mail)}
        )
        assert log_in(service) == 200
        clock.advance(minutes=6)
        assert service.client.post("/email/verification").status_code == 202
        service.outbox.join()
        assert len(mails_with(mail, EMAIL, VERIFY)) == 1


class TestRequired:
    def test_a_right_password_on_an_unverified_account_gets_403_no_session_and_a_link(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        service = service_with(make_service, mail, REQUIRED)
        sign_up(service)
        verification_token(service, mail)
        clock.advance(minutes=6)
        answer = service.client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert (answer.status_code, answer.json) == (403, {"message": "email not verified"})
        assert "Set-Cookie" not in answer.headers
        assert service.client.get("/profile").status_code == 403
        fresh = verification_token(service, mail, count=2)
        assert service.client.put("/email/verification", data={"token": fresh}).status_code == 200
        assert log_in(service) == 200

    def test_a_wrong_password_still_answers_401(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = service_with(make_service, mail, REQUIRED)
        sign_up(service)
        answer = service.client.post("/sessions", data={"email": EMAIL, "password": "wrong!"})
        assert answer.status_code == 401

    def test_the_login_page_says_so_next_to_the_email(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = service_with(make_service, mail, REQUIRED)
        sign_up(service)
        answer = service.client.post(
            "/auth/login",
            data={
                "csrf_token": csrf_token(service.client, "/auth/login"),
                "email": EMAIL,
                "password": PASSWORD,
            },
        )
        assert answer.status_code == 403
        assert 'class="field-error" id="email-error">Your email address is not verified' in (
            answer.get_data(as_text=True)
        )

    def test_with_a_second_factor_the_refusal_comes_after_the_right_code(
        self, make_service: ServiceFactory, mail: MailSink, clock: FakeClock
    ) -> None:
        optional = service_with(make_service, mail, OPTIONAL)
        sign_up(optional)
        assert log_in(optional) == 200
        enrolled = enrol(optional.client, clock())
        required = service_with(make_service, mail, REQUIRED)
        assert log_in(required) == 401  # the password step: second factor required
        clock.advance(seconds=30)
        code = oathtool_code(enrolled.secret, clock())
        answer = required.client.post("/sessions/second-factor", data={"code": code})
        assert (answer.status_code, answer.json) == (403, {"message": "email not verified"})
        assert required.client.get("/profile").status_code == 403
        # The refusal's trail is kept (the second step's transaction commits it).
        user = required.auth.accounts.find(EMAIL)
        assert user is not None
        events = [e.event for e in required.auth.db.list_audit_events(user_id=user.id)]
        assert "login_unverified" in events


class TestWhoAmI:
    def test_me_answers_the_account_and_profile_keeps_the_designs_answer(
        self, mail: MailSink, service: Service
    ) -> None:
        service.client.put(
            "/email/verification", data={"token": verification_token(service, mail)}
        )
        assert log_in(service) == 200
        body = me(service)
        assert set(body) == {"id", "email", "email_verified", "created_at", "factors"}
        assert (body["email"], body["email_verified"], body["factors"]) == (EMAIL, True, [])
        assert isinstance(body["created_at"], str)
        assert service.client.get("/profile").json == {"email": EMAIL}

    def test_me_needs_a_session(self, make_service: ServiceFactory, mail: MailSink) -> None:
        service = service_with(make_service, mail, OPTIONAL)
        assert service.client.get("/me").status_code == 403

    def test_the_gates_header_turns_true_once_verified(self, service: Service, token: str) -> None:
        assert log_in(service) == 200
        before = service.client.get("/auth/verify")
        assert before.headers["X-Auth-Request-Email-Verified"] == "false"
        service.client.put("/email/verification", data={"token": token})
        after = service.client.get("/auth/verify")
        assert after.headers["X-Auth-Request-Email-Verified"] == "true"
