"""Production: reset by email, answers that hide accounts, the strict password policy,
Secure cookies, security headers, and a start-up that refuses unsafe settings."""

from __future__ import annotations

import logging
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import ROOT
from tests.smtp import (
    PRODUCTION_WEBAUTHN,
    TEST_ENCRYPTION_KEY,
    TEST_SECRET_KEY,
    MailSink,
    ReceivedMail,
    Service,
    ServiceFactory,
)
from userauth.auth import Auth
from userauth.db import DB
from userauth.mail import forgot_link
from userauth.settings import (
    CookieSettings,
    FactorSettings,
    MailSettings,
    RateLimitSettings,
    Section,
    SecuritySettings,
    ServerSettings,
    Settings,
    SettingsError,
    WebAuthnSettings,
    WebSettings,
)
from userauth.settings.production import production_problems, serving_problems
from userauth.web import create_app

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL"); the tests marked databases("sqlite", "postgres") below run on both.
pytestmark = pytest.mark.databases("sqlite")

EMAIL = "bob@example.com"
UNKNOWN_EMAIL = "nobody@example.com"
# Passwords that pass production's policy: long, not common, not the email.
PASSWORD = "violet-kettle-orbit-42"
NEW_PASSWORD = "amber-lantern-quiet-17"
WEAK_PASSWORD = "b4l0u"
# Response times of a registered and an unregistered email: medians may differ by 25%.
MAX_TIME_RATIO = 1.25
TIMING_SAMPLES = 51
TIMING_ROUNDS = 3
ENVIRONMENTS = pytest.mark.parametrize("environment", ["development", "production"])


@pytest.fixture
def production(make_service: ServiceFactory) -> Service:
    """A production app where bob@example.com has an account."""
    service = make_service("production")
    service.auth.register_user(EMAIL, PASSWORD)
    return service


def request_reset(service: Service, email: str = EMAIL) -> TestResponse:
    """POST /reset_password, then wait until any email it causes has been delivered."""
    response = service.client.post("/reset_password", data={"email": email})
    service.outbox.join()
    return response


def token_in(mail: ReceivedMail) -> str:
    """Return the reset token from the link in a reset email."""
    found = re.search(r"https://auth\.example\.com/reset\?token=(\S+)", mail.body)
    assert found is not None, "the email holds no reset link"
    return unquote(found.group(1))


def mailed_token(service: Service, mail: MailSink, email: str = EMAIL) -> str:
    assert request_reset(service, email).status_code == 200
    return token_in(mail.to(email)[-1])


def put_reset(
    client: FlaskClient, token: str, new_password: str = NEW_PASSWORD, email: str = EMAIL
) -> TestResponse:
    return client.put(
        "/reset_password",
        data={"email": email, "reset_token": token, "new_password": new_password},
    )


def log_in(client: FlaskClient, password: str = PASSWORD, email: str = EMAIL) -> TestResponse:
    return client.post("/sessions", data={"email": email, "password": password})


def message_of(response: TestResponse) -> str:
    body = response.get_json()
    assert isinstance(body, dict)
    message: str = body["message"]
    return message


# Production's reset by email goes through the outbox table: both databases.
@pytest.mark.databases("sqlite", "postgres")
class TestRequestResetInProduction:
    def test_registered_and_unregistered_emails_get_the_same_answer(
        self, production: Service
    ) -> None:
        known = request_reset(production, EMAIL)
        unknown = request_reset(production, UNKNOWN_EMAIL)

        assert (known.status_code, unknown.status_code) == (200, 200)
        assert known.get_json() == {"email": EMAIL, "message": message_of(unknown)}
        assert unknown.get_json() == {"email": UNKNOWN_EMAIL, "message": message_of(known)}

    def test_the_answer_never_contains_the_token(
        self, production: Service, mail: MailSink
    ) -> None:
        response = request_reset(production)

        token = token_in(mail.to(EMAIL)[0])
        assert "reset_token" not in response.get_json()
        assert token.encode() not in response.data
        assert all(token not in value for _, value in response.headers.items())

    def test_the_owner_receives_one_email_whose_link_resets_the_password(
        self, production: Service, mail: MailSink
    ) -> None:
        request_reset(production)

        [received] = mail.messages
        assert received.recipients == [EMAIL]
        assert received.message["To"] == EMAIL
        response = put_reset(production.client, token_in(received))
        assert response.status_code == 200
        assert response.get_json() == {"email": EMAIL, "message": "Password updated"}
        assert log_in(production.client, NEW_PASSWORD).status_code == 200
        assert log_in(production.client, PASSWORD).status_code == 401

    def test_the_email_carries_a_date_and_a_message_id(
        self, production: Service, mail: MailSink
    ) -> None:
        before = datetime.now(UTC).replace(microsecond=0)
        request_reset(production)

        [received] = mail.messages
        sent_at = parsedate_to_datetime(received.message["Date"])
        assert before <= sent_at <= datetime.now(UTC)
        assert re.fullmatch(r"<[^<>@\s]+@example\.com>", received.message["Message-ID"])

    def test_an_unregistered_email_receives_no_mail(
        self, production: Service, mail: MailSink
    ) -> None:
        request_reset(production, UNKNOWN_EMAIL)

        assert mail.messages == []

    def test_the_email_holds_no_secret_but_the_token(
        self, production: Service, mail: MailSink
    ) -> None:
        login = log_in(production.client)
        session_cookie = production.client.get_cookie("__Host-session_id")
        assert login.status_code == 200
        assert session_cookie is not None
        stored_hash = production.auth.db.find_user_by(email=EMAIL).hashed_password

        request_reset(production)

        [received] = mail.messages
        hash_text = stored_hash.decode() if isinstance(stored_hash, bytes) else stored_hash
        for text in (received.raw.decode(errors="replace"), received.body):
            assert PASSWORD not in text
            assert session_cookie.value not in text
            assert hash_text not in text
        assert received.body.count(token_in(received)) == 1

    def test_the_token_works_once(self, production: Service, mail: MailSink) -> None:
        token = mailed_token(production, mail)

        assert put_reset(production.client, token).status_code == 200
        assert put_reset(production.client, token, "a-third-password-here").status_code == 403

    # A ratio of medians: measured while no other test runs (tests/workers.py).
    @pytest.mark.alone
    def test_response_time_does_not_reveal_registered_emails(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        # The limits would stop 60 requests in a row; this test measures, not limits.
        service = make_service(
            "production",
            RateLimitSettings(reset="1000/minute", reset_account="1000/hour"),
            ServerSettings(log_level="WARNING"),
        )
        service.auth.register_user(EMAIL, PASSWORD)
        request_reset(service, UNKNOWN_EMAIL)  # warm-up: first-request costs are not the email's

        # A leak is systematic and shows in every round; a busy machine's noise, beside a
        # request of about a millisecond, does not: the best of three rounds must pass.
        rounds = [median_times(service) for _ in range(TIMING_ROUNDS)]
        ratios = [max(known, unknown) / min(known, unknown) for known, unknown in rounds]
        assert min(ratios) <= MAX_TIME_RATIO, ", ".join(
            f"registered {known * 1000:.2f} ms / unregistered {unknown * 1000:.2f} ms"
            for known, unknown in rounds
        )
        assert len(mail.to(EMAIL)) == TIMING_ROUNDS * TIMING_SAMPLES


@ENVIRONMENTS
class TestResetPasswordWithAWrongToken:
    def test_a_made_up_token_is_403(self, environment: str, make_service: ServiceFactory) -> None:
        service = make_service(environment)
        service.auth.register_user(EMAIL, PASSWORD)

        response = put_reset(service.client, "0b5e5c8a-35c2-4a4b-9f0e-6f1d2b7f6a11")

        assert response.status_code == 403
        assert log_in(service.client).status_code == 200

    def test_another_accounts_token_is_403(
        self, environment: str, make_service: ServiceFactory
    ) -> None:
        service = make_service(environment)
        service.auth.register_user(EMAIL, PASSWORD)
        service.auth.register_user("alice@example.com", PASSWORD)
        alices_token = service.auth.get_reset_password_token("alice@example.com")

        response = put_reset(service.client, alices_token, email=EMAIL)

        assert response.status_code == 403


# A taken email's notice is queued in the outbox, per account: both databases.
@pytest.mark.databases("sqlite", "postgres")
class TestRegisterInProduction:
    def test_a_taken_email_answers_exactly_like_a_new_registration(
        self, make_service: ServiceFactory
    ) -> None:
        service = make_service()
        first = {"email": EMAIL, "password": PASSWORD}
        again = {"email": EMAIL, "password": NEW_PASSWORD}

        new = service.client.post("/users", data=first)
        taken = service.client.post("/users", data=again)

        assert (new.status_code, taken.status_code) == (200, 200)
        assert new.get_json() == taken.get_json() == {"email": EMAIL, "message": "user created"}
        assert sorted(new.headers.keys()) == sorted(taken.headers.keys())
        assert log_in(service.client, NEW_PASSWORD).status_code == 401

    def test_the_owner_of_a_taken_email_is_mailed_a_notice(
        self, production: Service, mail: MailSink
    ) -> None:
        production.client.post("/users", data={"email": EMAIL, "password": NEW_PASSWORD})
        production.outbox.join()

        [notice] = mail.messages
        assert notice.recipients == [EMAIL]
        assert "already" in notice.body
        assert NEW_PASSWORD not in notice.raw.decode(errors="replace")
        assert PASSWORD not in notice.raw.decode(errors="replace")

    @pytest.mark.parametrize(
        ("reset_link", "forgot", "link"),
        [
            (
                "https://auth.example.com/auth/reset?token={token}",
                None,
                "https://auth.example.com/auth/forgot",
            ),
            (
                "https://example.com/id/reset_password?token={token}",
                None,
                "https://example.com/id/auth/forgot",
            ),
            (
                "https://app.example.com/reset?token={token}",
                "https://app.example.com/forgot",
                "https://app.example.com/forgot",
            ),
        ],
        ids=["hosted-reset-page", "design-link-under-a-prefix", "forgot-link-set"],
    )
    def test_the_notice_links_to_the_forgot_password_page(
        self,
        make_service: ServiceFactory,
        mail: MailSink,
        reset_link: str,
        forgot: str | None,
        link: str,
    ) -> None:
        links = replace(mail.production_mail(), reset_link_template=reset_link, forgot_link=forgot)
        service = make_service("production", links)
        service.auth.register_user(EMAIL, PASSWORD)
        service.client.post("/users", data={"email": EMAIL, "password": NEW_PASSWORD})
        service.outbox.join()

        [notice] = mail.messages
        lines = notice.body.splitlines()
        assert lines[2].endswith("forgot your password, ask for a password reset here:")
        assert lines[4] == link

    def test_the_derived_link_is_the_hosted_forgot_page(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        link_template = "https://a.example/auth/reset?token={token}"
        service = make_service(
            "production", replace(mail.production_mail(), reset_link_template=link_template)
        )
        link = forgot_link(service.auth.settings)
        assert link is not None

        assert service.client.get(urlsplit(link).path).status_code == 200

    def test_an_apps_own_reset_page_gives_no_link_unless_one_is_set(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        link_template = "https://app.example.com/reset?token={token}"
        service = make_service(
            "production", replace(mail.production_mail(), reset_link_template=link_template)
        )
        service.auth.register_user(EMAIL, PASSWORD)
        service.client.post("/users", data={"email": EMAIL, "password": NEW_PASSWORD})
        service.outbox.join()

        [notice] = mail.messages
        assert "forgot your password, ask for a password reset." in notice.body.splitlines()[2]
        assert "http" not in notice.body

    def test_a_forgot_link_that_is_not_a_web_link_is_refused_naming_the_variable(self) -> None:
        with pytest.raises(SettingsError, match=r"^USERAUTH_FORGOT_LINK must be an https://"):
            Settings.from_env({"USERAUTH_FORGOT_LINK": "/auth/forgot"})

    def test_notices_to_one_owner_are_limited_per_account(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("production", RateLimitSettings(reset_account="2/hour"))
        service.auth.register_user(EMAIL, PASSWORD)
        statuses = [
            service.client.post(
                "/users",
                data={"email": EMAIL, "password": NEW_PASSWORD},
                environ_base={"REMOTE_ADDR": f"10.0.0.{number}"},
            ).status_code
            for number in range(4)
        ]
        service.outbox.join()

        assert statuses == [200, 200, 429, 429]
        assert len(mail.to(EMAIL)) == 2

    def test_a_new_registration_sends_no_mail(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service()

        service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        service.outbox.join()

        assert mail.messages == []

    def test_development_still_says_the_email_is_registered(
        self, make_service: ServiceFactory
    ) -> None:
        service = make_service("development")
        service.auth.register_user(EMAIL, PASSWORD)

        response = service.client.post("/users", data={"email": EMAIL, "password": PASSWORD})

        assert response.status_code == 400
        assert response.get_json() == {"message": "email already registered"}


WEAK_PASSWORDS = pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Zq7$mw2", "at least 8 characters"),
        ("x" * 73, "at most 72 bytes"),
        ("\u00e9" * 37, "at most 72 bytes"),
        ("password1", "common"),
        ("qwertyuiop", "common"),
        ("QWERTYUIOP", "common"),
        (EMAIL, "email"),
        (EMAIL.upper(), "email"),
    ],
    ids=[
        "7-characters",
        "73-bytes",
        "37-characters-74-bytes",
        "common-password1",
        "common-qwertyuiop",
        "common-in-capitals",
        "the-email",
        "the-email-in-capitals",
    ],
)


class TestProductionPasswordPolicy:
    @WEAK_PASSWORDS
    def test_registration_refuses_naming_the_rule(
        self, make_service: ServiceFactory, password: str, rule: str
    ) -> None:
        service = make_service()

        response = service.client.post("/users", data={"email": EMAIL, "password": password})

        assert response.status_code == 400
        assert rule in message_of(response)
        assert log_in(service.client, password).status_code == 401

    @WEAK_PASSWORDS
    def test_reset_refuses_naming_the_rule(
        self, production: Service, mail: MailSink, password: str, rule: str
    ) -> None:
        token = mailed_token(production, mail)

        response = put_reset(production.client, token, password)

        assert response.status_code == 400
        assert rule in message_of(response)
        assert log_in(production.client).status_code == 200

    @WEAK_PASSWORDS
    def test_change_refuses_naming_the_rule(
        self, production: Service, password: str, rule: str
    ) -> None:
        assert log_in(production.client).status_code == 200

        response = production.client.put(
            "/profile/password", data={"password": PASSWORD, "new_password": password}
        )

        assert response.status_code == 400
        assert rule in message_of(response)
        assert log_in(production.client).status_code == 200

    @pytest.mark.parametrize(
        "password",
        ["123456\n123456789", "123456 123456789"],
        ids=["two-listed-lines-joined", "two-listed-words-with-a-space"],
    )
    def test_a_password_not_on_the_list_is_not_common(
        self, make_service: ServiceFactory, password: str
    ) -> None:
        service = make_service()

        response = service.client.post("/users", data={"email": EMAIL, "password": password})

        assert response.status_code == 200
        assert log_in(service.client, password).status_code == 200

    def test_a_strong_password_is_accepted_everywhere(
        self, production: Service, mail: MailSink
    ) -> None:
        registered = production.client.post(
            "/users", data={"email": "alice@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 200
        assert put_reset(production.client, mailed_token(production, mail)).status_code == 200
        assert log_in(production.client, NEW_PASSWORD).status_code == 200
        changed = production.client.put(
            "/profile/password", data={"password": NEW_PASSWORD, "new_password": PASSWORD}
        )
        assert changed.status_code == 200


class TestDevelopmentPasswordPolicy:
    def test_the_contracts_password_is_accepted_everywhere(
        self, make_service: ServiceFactory
    ) -> None:
        service = make_service("development")
        client = service.client

        assert (
            client.post("/users", data={"email": EMAIL, "password": WEAK_PASSWORD}).status_code
            == 200
        )
        token = client.post("/reset_password", data={"email": EMAIL}).get_json()["reset_token"]
        assert put_reset(client, token, "t4rt1fl3tt3").status_code == 200
        assert log_in(client, "t4rt1fl3tt3").status_code == 200
        changed = client.put(
            "/profile/password", data={"password": "t4rt1fl3tt3", "new_password": WEAK_PASSWORD}
        )
        assert changed.status_code == 200
        assert log_in(client, WEAK_PASSWORD).status_code == 200


def session_cookies(response: TestResponse) -> list[str]:
    """Return the response's session Set-Cookie headers (a login also sets the device's)."""
    names = ("session_id", "__Host-session_id")
    return [h for h in response.headers.getlist("Set-Cookie") if h.partition("=")[0] in names]


class TestSessionCookie:
    def test_production_cookie_is_secure_httponly_and_lax(self, production: Service) -> None:
        response = log_in(production.client)

        [cookie] = session_cookies(response)
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"secure", "httponly"} <= attributes
        assert "samesite=lax" in cookie.lower()

    def test_production_logout_clears_the_cookie_with_a_secure_header(
        self, production: Service
    ) -> None:
        log_in(production.client)

        response = production.client.delete("/sessions")

        [cookie] = response.headers.getlist("Set-Cookie")
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert cookie.startswith("__Host-session_id=;")
        assert {"secure", "httponly"} <= attributes

    def test_development_cookie_is_httponly_and_lax_but_not_secure(
        self, make_service: ServiceFactory
    ) -> None:
        service = make_service("development")
        service.auth.register_user(EMAIL, PASSWORD)

        response = log_in(service.client)

        [cookie] = session_cookies(response)
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert "httponly" in attributes
        assert "secure" not in attributes
        assert "samesite=lax" in cookie.lower()


def _requests() -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("GET", "/", {}),
        ("GET", "/no/such/page", {}),
        ("POST", "/sessions", {"email": EMAIL, "password": "wrong password here"}),
        ("POST", "/sessions", {"email": EMAIL, "password": PASSWORD}),
        ("POST", "/sessions", {}),
        ("GET", "/profile", {}),
        ("PATCH", "/profile", {}),
        ("POST", "/reset_password", {"email": EMAIL}),
        ("PUT", "/reset_password", {"email": EMAIL, "reset_token": "x", "new_password": "y"}),
    ]


@ENVIRONMENTS
class TestSecurityHeaders:
    @pytest.mark.parametrize(
        ("method", "path", "form"),
        _requests(),
        ids=[
            "index-200",
            "unknown-path-404",
            "wrong-login-401",
            "login-200",
            "missing-fields-400",
            "no-session-403",
            "wrong-method-405",
            "reset-request-200",
            "bad-token-403",
        ],
    )
    def test_every_response_carries_the_security_headers(
        self,
        environment: str,
        make_service: ServiceFactory,
        method: str,
        path: str,
        form: dict[str, str],
    ) -> None:
        service = make_service(environment)
        service.auth.register_user(EMAIL, PASSWORD)

        response = service.client.open(path, method=method, data=form)

        assert response.headers.get("X-Content-Type-Options") == "nosniff"
        assert response.headers.get("X-Frame-Options") == "DENY"
        assert response.headers.get("Referrer-Policy")

    def test_a_rate_limited_answer_carries_them_too(
        self, environment: str, make_service: ServiceFactory
    ) -> None:
        service = make_service(environment, RateLimitSettings(login="1/minute"))

        statuses = [log_in(service.client).status_code for _ in range(2)]
        response = log_in(service.client)

        assert statuses[-1] == response.status_code == 429
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
        assert response.headers.get("X-Frame-Options") == "DENY"
        assert response.headers.get("Referrer-Policy")

    def test_an_oversized_body_answer_carries_them_too(
        self, environment: str, make_service: ServiceFactory
    ) -> None:
        service = make_service(environment)

        response = service.client.post("/users", data={"email": EMAIL, "password": "x" * 70_000})

        assert response.status_code == 413
        assert response.headers.get("X-Content-Type-Options") == "nosniff"
        assert response.headers.get("X-Frame-Options") == "DENY"


Unsafe = Callable[[Settings], Settings]
UNSAFE = pytest.mark.parametrize(
    ("unsafe", "setting"),
    [
        (lambda s: s.with_sections(replace(s.mail, smtp_host=None)), "USERAUTH_SMTP_HOST"),
        (
            lambda s: s.with_sections(replace(s.security, bcrypt_rounds=9)),
            "USERAUTH_BCRYPT_ROUNDS",
        ),
        (lambda s: s.with_sections(ServerSettings(debug=True)), "USERAUTH_DEBUG"),
        (lambda s: s.with_sections(CookieSettings(secure=False)), "USERAUTH_COOKIE_SECURE"),
        (
            lambda s: s.with_sections(replace(s.security, secret_key=None)),
            "USERAUTH_SECRET_KEY",
        ),
        # It also signs the device cookies (userauth/web/devices.py), pages or not.
        (
            lambda s: s.with_sections(
                replace(s.security, secret_key=None), WebSettings(pages_enabled=False)
            ),
            "USERAUTH_SECRET_KEY",
        ),
        # TOTP seeds must be read back: encrypted at rest with a key only production holds.
        (lambda s: s.with_sections(FactorSettings()), "USERAUTH_ENCRYPTION_KEYS"),
        # Passkeys: a Host header is no way to name the relying party (issue 25).
        (lambda s: s.with_sections(WebAuthnSettings()), "USERAUTH_WEBAUTHN_RP_ID"),
        (
            lambda s: s.with_sections(replace(s.webauthn, origins=())),
            "USERAUTH_WEBAUTHN_ORIGINS",
        ),
    ],
    ids=[
        "no-smtp-host",
        "bcrypt-cost-9",
        "debug-on",
        "cookie-not-secure",
        "no-secret-key",
        "no-secret-key-pages-off",
        "no-encryption-keys",
        "no-webauthn-rp-id",
        "no-webauthn-origins",
    ],
)


def production_serving(*sections: Section) -> Settings:
    """Production settings with mail and an https reset link, for the serving checks."""
    return Settings(
        env="production",
        mail=MailSettings(
            smtp_host="127.0.0.1", reset_link_template="https://example.com/reset?token={token}"
        ),
        cookies=CookieSettings(secure=True),
        factors=FactorSettings(encryption_keys=(TEST_ENCRYPTION_KEY,)),
        webauthn=PRODUCTION_WEBAUTHN,
    ).with_sections(*sections)


class TestProductionStartUp:
    @UNSAFE
    def test_create_app_refuses_naming_the_setting(
        self, database_url: str, mail: MailSink, unsafe: Unsafe, setting: str
    ) -> None:
        settings = unsafe(mail.production_settings(database_url))
        db = DB(database_url)
        auth = Auth(db=db, settings=settings)

        with pytest.raises(SettingsError) as refused:
            create_app(settings, auth)
        db.close()

        [sentence] = str(refused.value).splitlines()
        assert setting in sentence
        assert sentence.endswith(".")

    @UNSAFE
    def test_create_app_refuses_without_an_auth_too(
        self, database_url: str, mail: MailSink, unsafe: Unsafe, setting: str
    ) -> None:
        settings = unsafe(mail.production_settings(database_url))

        with pytest.raises(SettingsError, match=setting):
            create_app(settings)

    def test_every_problem_gets_its_own_sentence(self, database_url: str, mail: MailSink) -> None:
        settings = mail.production_settings(
            database_url,
            replace(mail.production_mail(), smtp_host=None),
            SecuritySettings(bcrypt_rounds=9, secret_key=TEST_SECRET_KEY),
            ServerSettings(debug=True),
            CookieSettings(secure=False),
        )

        with pytest.raises(SettingsError) as refused:
            create_app(settings)

        sentences = str(refused.value).splitlines()
        named = ["USERAUTH_SMTP_HOST", "USERAUTH_BCRYPT_ROUNDS", "USERAUTH_DEBUG"]
        named.append("USERAUTH_COOKIE_SECURE")
        assert len(sentences) == 4
        assert [sum(name in sentence for sentence in sentences) for name in named] == [1] * 4

    def test_the_lowest_safe_configuration_starts(self, make_service: ServiceFactory) -> None:
        service = make_service()

        assert service.client.get("/").status_code == 200

    @pytest.mark.parametrize(
        ("env", "setting"),
        [
            ({"USERAUTH_BCRYPT_ROUNDS": "12"}, "USERAUTH_SMTP_HOST"),
            (
                {"USERAUTH_SMTP_HOST": "127.0.0.1", "USERAUTH_BCRYPT_ROUNDS": "9"},
                "USERAUTH_BCRYPT_ROUNDS",
            ),
        ],
        ids=["no-smtp-host", "bcrypt-cost-9"],
    )
    def test_serve_exits_2_printing_only_the_problem(
        self, database_url: str, env: dict[str, str], setting: str
    ) -> None:
        environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith("USERAUTH_")},
            "DATABASE_URL": database_url,
            "USERAUTH_ENV": "production",
            **env,
        }

        finished = subprocess.run(
            [sys.executable, "-m", "userauth", "serve"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert finished.returncode == 2
        first, *sentences = finished.stderr.splitlines()
        assert first == "userauth cannot start:"
        assert any(setting in sentence for sentence in sentences)
        assert all(sentence.endswith(".") for sentence in sentences)

    @pytest.mark.parametrize(
        ("workers", "redis", "refused"),
        [("2", False, True), ("1", False, False), ("2", True, False)],
        ids=["two-workers-no-redis", "one-worker-no-redis", "two-workers-redis"],
    )
    def test_several_workers_without_a_shared_counter_store_are_refused(
        self, workers: str, redis: bool, refused: bool
    ) -> None:
        settings = production_serving(
            SecuritySettings(secret_key="k" * 32),
            ServerSettings(workers=int(workers)),
            RateLimitSettings(redis_url="redis://127.0.0.1:6379/0" if redis else None),
        )
        problems = serving_problems(settings)
        assert [p for p in problems if "REDIS_URL" in p] == (
            [
                "REDIS_URL must be set in production with 2 workers: without a shared counter "
                "store each worker counts rate limits alone (or set USERAUTH_WORKERS=1)."
            ]
            if refused
            else []
        )
        assert production_problems(settings) == []

    @pytest.mark.parametrize(
        ("redis", "key_secret", "refused"),
        [(True, None, True), (True, "k" * 64, False), (False, None, False)],
        ids=["redis-no-key-secret", "redis-key-secret", "no-redis"],
    )
    def test_a_shared_counter_store_without_a_key_secret_is_refused(
        self, redis: bool, key_secret: str | None, refused: bool
    ) -> None:
        # Servers with different keys would count one account under different keys.
        settings = production_serving(
            ServerSettings(workers=1),
            RateLimitSettings(
                redis_url="redis://127.0.0.1:6379/0" if redis else None, key_secret=key_secret
            ),
        )

        problems = [p for p in serving_problems(settings) if "KEY_SECRET" in p]

        assert len(problems) == (1 if refused else 0)

    def test_a_short_key_secret_is_refused_without_showing_it(self) -> None:
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"USERAUTH_RATELIMIT_KEY_SECRET": "hunter2-hunter2"})

        assert "USERAUTH_RATELIMIT_KEY_SECRET" in str(refused.value)
        assert "hunter2" not in str(refused.value)

    def test_the_key_secret_is_read_and_never_shown(self) -> None:
        secret = "s3cr3t" * 8
        settings = Settings.from_env({"USERAUTH_RATELIMIT_KEY_SECRET": secret})

        assert settings.rate_limits.counter_key_secret == secret.encode()
        assert secret not in repr(settings)
        assert settings.rate_limits.generated_key_secret not in repr(settings)

    def test_without_a_key_secret_each_settings_read_generates_its_own(self) -> None:
        first, second = Settings.from_env({}), Settings.from_env({})

        assert len(first.rate_limits.counter_key_secret) == 64
        assert first.rate_limits.counter_key_secret != second.rate_limits.counter_key_secret

    def test_production_logs_no_warning(
        self, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="userauth"):
            make_service()

        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


class TestDevelopmentStartUp:
    def test_logs_exactly_one_warning_line_saying_what_is_unsafe(
        self, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.INFO, logger="userauth"):
            make_service("development")

        [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert warning.name.startswith("userauth")
        line = warning.getMessage()
        assert "\n" not in line
        assert "development" in line
        assert "production" in line


def median_times(service: Service) -> tuple[float, float]:
    """Time TIMING_SAMPLES reset requests for each email; return both medians (known first)."""
    timings: dict[str, list[float]] = {EMAIL: [], UNKNOWN_EMAIL: []}
    for round_ in range(TIMING_SAMPLES):
        # ABBA order: neither email always follows the other's background work.
        for email in sorted(timings, reverse=bool(round_ % 2)):
            start = time.perf_counter()
            response = service.client.post("/reset_password", data={"email": email})
            timings[email].append(time.perf_counter() - start)
            assert response.status_code == 200
            service.outbox.join()
    return statistics.median(timings[EMAIL]), statistics.median(timings[UNKNOWN_EMAIL])


@pytest.mark.databases("sqlite", "postgres")
class TestPolicyBelongsToTheDomain:
    """Any front end gets production's discretion from Auth itself, without the web app."""

    def test_signing_up_a_taken_email_returns_and_mails_the_owner(
        self, production: Service, mail: MailSink
    ) -> None:
        production.auth.sign_up(EMAIL, NEW_PASSWORD)
        production.auth.outbox.join()
        assert len(mail.to(EMAIL)) == 1

    def test_a_reset_request_returns_no_token_and_mails_one(
        self, production: Service, mail: MailSink
    ) -> None:
        answer = production.auth.request_password_reset(EMAIL)
        production.auth.outbox.join()
        assert answer.token is None
        production.auth.reset_password(EMAIL, token_in(mail.to(EMAIL)[-1]), NEW_PASSWORD)

    def test_a_reset_request_for_an_unknown_email_returns_the_same(
        self, production: Service, mail: MailSink
    ) -> None:
        answer = production.auth.request_password_reset(UNKNOWN_EMAIL)
        production.auth.outbox.join()
        assert answer.token is None
        assert mail.messages == []

    def test_development_returns_the_token(self, make_service: ServiceFactory) -> None:
        development = make_service("development")
        development.auth.register_user(EMAIL, PASSWORD)
        answer = development.auth.request_password_reset(EMAIL)
        assert answer.token is not None
