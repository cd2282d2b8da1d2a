"""Audit events: one row per login, failure, logout, revocation, reset and change, saying who,
from where and when, and never holding a password, a token or a session id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.db import DB
from userauth.models import AuditEvent
from userauth.tokens import digest

EMAIL = "bob@example.com"
UNKNOWN_EMAIL = "nobody@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
NEW_PASSWORD = "amber-lantern-quiet-17"
CHANGED_PASSWORD = "copper-meadow-whistle-58"
ADDRESS = "203.0.113.7"
USER_AGENT = "AuditTest/1.0 (X11; Linux x86_64)"

ENVIRONMENTS = pytest.mark.parametrize("environment", ["development", "production"])


@pytest.fixture
def service(environment: str, make_service: ServiceFactory) -> Service:
    """An app where bob@example.com has an account; its client has an address and a browser."""
    built = make_service(environment)
    built.auth.register_user(EMAIL, PASSWORD)
    built.client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=USER_AGENT)
    return built


@pytest.fixture
def db(database_url: str) -> Iterator[DB]:
    """A second view of the test database, to read the audit trail."""
    reader = DB(database_url)
    yield reader
    reader.close()


def user_id(db: DB, email: str = EMAIL) -> int:
    return db.find_user_by(email=email).id


def events_named(db: DB, event: str) -> list[AuditEvent]:
    return [row for row in db.list_audit_events(limit=1000) if row.event == event]


def assert_recorded(
    db: DB, event: str, user: int | None, when: datetime, address: str = ADDRESS
) -> None:
    """Assert exactly one row of this event, with its user, client and time."""
    [row] = events_named(db, event)
    assert row.user_id == user
    assert row.client_address == address
    assert row.user_agent == USER_AGENT
    recorded = row.created_at
    assert (recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)) == when


def log_in(service: Service, password: str = PASSWORD, email: str = EMAIL) -> TestResponse:
    return service.client.post("/sessions", data={"email": email, "password": password})


def session_cookie(client: FlaskClient) -> str:
    # session_id, or __Host-session_id in production.
    cookie = client.get_cookie(
        client.application.extensions["userauth"].settings.session_cookie_name
    )
    assert cookie is not None
    return cookie.value


def other_session(service: Service) -> int:
    """Return the listed id of the one session that is not the client's own."""
    listed = service.client.get("/sessions").get_json()["sessions"]
    [other] = [session["id"] for session in listed if not session["current"]]
    number: int = other
    return number


def reset_token(service: Service, mail: MailSink) -> str:
    """Ask for a reset of bob's password and return the token, however it travels."""
    response = service.client.post("/reset_password", data={"email": EMAIL})
    service.outbox.join()
    assert response.status_code == 200
    if not service.auth.settings.is_production:
        token: str = response.get_json()["reset_token"]
        return token
    found = re.search(r"token=(\S+)", mail.to(EMAIL)[-1].body)
    assert found is not None
    return unquote(found.group(1))


@ENVIRONMENTS
class TestLoginEvents:
    def test_a_login_is_recorded(self, service: Service, db: DB, clock: FakeClock) -> None:
        clock.advance(minutes=3)

        assert log_in(service).status_code == 200

        assert_recorded(db, "login", user_id(db), clock.now)
        assert events_named(db, "login_failed") == []

    def test_a_wrong_password_is_recorded_with_the_user(
        self, service: Service, db: DB, clock: FakeClock
    ) -> None:
        assert log_in(service, WRONG_PASSWORD).status_code == 401

        assert_recorded(db, "login_failed", user_id(db), clock.now)
        assert events_named(db, "login") == []

    def test_an_unknown_email_is_recorded_without_a_user(
        self, service: Service, db: DB, clock: FakeClock
    ) -> None:
        assert log_in(service, PASSWORD, UNKNOWN_EMAIL).status_code == 401

        assert_recorded(db, "login_failed", None, clock.now)

    def test_each_attempt_is_its_own_row(self, service: Service, db: DB) -> None:
        log_in(service, WRONG_PASSWORD)
        log_in(service, WRONG_PASSWORD)
        log_in(service)

        assert len(events_named(db, "login_failed")) == 2
        assert len(events_named(db, "login")) == 1

    def test_the_address_is_the_clients(self, service: Service, db: DB, clock: FakeClock) -> None:
        service.client.post(
            "/sessions",
            data={"email": EMAIL, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "198.51.100.23"},
        )

        assert_recorded(db, "login", user_id(db), clock.now, address="198.51.100.23")


@ENVIRONMENTS
class TestLogoutEvents:
    def test_a_logout_is_recorded(self, service: Service, db: DB, clock: FakeClock) -> None:
        log_in(service)
        clock.advance(minutes=7)

        assert service.client.delete("/sessions").status_code == 302

        assert_recorded(db, "logout", user_id(db), clock.now)

    def test_a_logout_without_a_session_records_nothing(self, service: Service, db: DB) -> None:
        assert service.client.delete("/sessions").status_code == 403

        assert events_named(db, "logout") == []


@ENVIRONMENTS
class TestRevokeSessionEvents:
    def test_a_revoked_session_is_recorded(
        self, service: Service, db: DB, clock: FakeClock
    ) -> None:
        other_device = service.app.test_client()
        other_device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        log_in(service)
        clock.advance(minutes=2)

        assert service.client.delete(f"/sessions/{other_session(service)}").status_code == 200

        assert_recorded(db, "session_revoked", user_id(db), clock.now)

    def test_revoking_a_session_of_nobody_records_nothing(self, service: Service, db: DB) -> None:
        log_in(service)

        assert service.client.delete("/sessions/999999").status_code == 404

        assert events_named(db, "session_revoked") == []


@ENVIRONMENTS
class TestResetEvents:
    def test_a_reset_request_is_recorded(
        self, service: Service, mail: MailSink, db: DB, clock: FakeClock
    ) -> None:
        clock.advance(minutes=4)

        reset_token(service, mail)

        assert_recorded(db, "reset_requested", user_id(db), clock.now)

    def test_a_password_reset_is_recorded(
        self, service: Service, mail: MailSink, db: DB, clock: FakeClock
    ) -> None:
        token = reset_token(service, mail)
        clock.advance(minutes=5)

        response = service.client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD},
        )

        assert response.status_code == 200
        assert_recorded(db, "password_reset", user_id(db), clock.now)

    def test_a_refused_reset_records_no_reset(self, service: Service, db: DB) -> None:
        response = service.client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": "not-a-token", "new_password": NEW_PASSWORD},
        )

        assert response.status_code == 403
        assert events_named(db, "password_reset") == []


class TestResetEventsInProduction:
    def test_a_reset_request_for_an_unknown_email_is_recorded_without_a_user(
        self, make_service: ServiceFactory, db: DB, clock: FakeClock
    ) -> None:
        service = make_service("production")
        service.client.environ_base.update(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=USER_AGENT)

        response = service.client.post("/reset_password", data={"email": UNKNOWN_EMAIL})
        service.outbox.join()

        assert response.status_code == 200
        assert_recorded(db, "reset_requested", None, clock.now)


@ENVIRONMENTS
class TestChangePasswordEvents:
    def test_a_password_change_is_recorded(
        self, service: Service, db: DB, clock: FakeClock
    ) -> None:
        log_in(service)
        clock.advance(minutes=6)

        response = service.client.put(
            "/profile/password", data={"password": PASSWORD, "new_password": CHANGED_PASSWORD}
        )

        assert response.status_code == 200
        assert_recorded(db, "password_changed", user_id(db), clock.now)

    def test_a_wrong_current_password_records_no_change(self, service: Service, db: DB) -> None:
        log_in(service)

        response = service.client.put(
            "/profile/password",
            data={"password": WRONG_PASSWORD, "new_password": CHANGED_PASSWORD},
        )

        assert response.status_code == 403
        assert events_named(db, "password_changed") == []


@ENVIRONMENTS
class TestAuditHoldsNoSecret:
    def test_no_row_holds_a_password_token_or_session_id(
        self, service: Service, mail: MailSink, db: DB, engine: Engine
    ) -> None:
        secrets: list[str] = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, CHANGED_PASSWORD]
        log_in(service, WRONG_PASSWORD)
        log_in(service, PASSWORD, UNKNOWN_EMAIL)
        other_device = service.app.test_client()
        other_device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        log_in(service)
        secrets += [session_cookie(service.client), session_cookie(other_device)]
        service.client.delete(f"/sessions/{other_session(service)}")
        service.client.put(
            "/profile/password", data={"password": PASSWORD, "new_password": CHANGED_PASSWORD}
        )
        token = reset_token(service, mail)
        secrets.append(token)
        service.client.put(
            "/reset_password",
            data={"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD},
        )
        log_in(service, NEW_PASSWORD)
        secrets.append(session_cookie(service.client))
        service.client.delete("/sessions")
        secrets += [digest(secret) for secret in secrets]
        secrets.append(db.find_user_by(email=EMAIL).hashed_password.decode())

        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM audit_events")).all()

        recorded = {row.event for row in db.list_audit_events(limit=1000)}
        assert recorded >= {
            "login",
            "login_failed",
            "logout",
            "session_revoked",
            "reset_requested",
            "password_reset",
            "password_changed",
        }
        assert len(rows) >= 9
        cells = [str(cell) for row in rows for cell in row]
        leaks = [secret for secret in secrets if any(secret in cell for cell in cells)]
        assert leaks == []
