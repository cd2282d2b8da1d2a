"""Device sessions: many per user, ended one or all, expiring, listed and revoked (issue 3)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TEST_SECURITY, FakeClock, empty_postgres
from tests.storage import clear_forms, everything_stored
from userauth import migrations, tokens
from userauth.auth import Auth
from userauth.clock import as_utc
from userauth.db import DB
from userauth.models import sessions_table
from userauth.settings import DatabaseSettings, Settings

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"
OTHER_EMAIL = "alice@example.com"
OTHER_PASSWORD = "t4rt1fl3tt3"


@pytest.fixture
def registered(auth: Auth) -> None:
    auth.register_user(EMAIL, PASSWORD)
    auth.register_user(OTHER_EMAIL, OTHER_PASSWORD)


CHROME_ON_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
)
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def log_in(
    client: FlaskClient, email: str = EMAIL, password: str = PASSWORD, device: str = "device"
) -> str:
    """Log in over HTTP and return the clear session id from the cookie."""
    response = client.post(
        "/sessions", data={"email": email, "password": password}, headers={"User-Agent": device}
    )
    assert response.status_code == 200
    cookie = client.get_cookie("session_id")
    assert cookie is not None
    return cookie.value


def email_of(auth: Auth, session_id: str | None) -> str | None:
    """Return the email of the live session with this id, or None."""
    live = auth.resolve_session(session_id)
    return None if live is None else live.email


def newest_session_digest(auth: Auth, email: str = EMAIL) -> str | None:
    session_id: str | None = auth.db.find_user_by(email=email).session_id
    return session_id


def stored_last_used(engine: Engine) -> datetime:
    """Read the only session row's last_used_at straight from the database, as aware UTC."""
    with engine.connect() as connection:
        moment = connection.execute(select(sessions_table.c.last_used_at)).scalar_one()
    return as_utc(moment).astimezone(UTC)


def session_listing(client: FlaskClient) -> list[dict[str, Any]]:
    response = client.get("/sessions")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, dict)
    sessions: list[dict[str, Any]] = body["sessions"]
    return sessions


@pytest.mark.usefixtures("registered")
class TestCreateSession:
    def test_a_second_session_leaves_the_first_alive(self, auth: Auth) -> None:
        first = auth.create_session(EMAIL)
        second = auth.create_session(EMAIL)

        assert first is not None
        assert second is not None
        assert first != second
        for session_id in (first, second):
            user = auth.get_user_from_session_id(session_id)
            assert user is not None
            assert user.email == EMAIL

    def test_logging_in_on_a_second_device_keeps_the_first_logged_in(self, app: Flask) -> None:
        laptop, phone = app.test_client(), app.test_client()
        log_in(laptop, device="laptop")
        log_in(phone, device="phone")

        assert laptop.get("/profile").status_code == 200
        assert phone.get("/profile").status_code == 200

    def test_users_session_id_records_the_digest_of_the_newest_session(self, auth: Auth) -> None:
        first = auth.create_session(EMAIL)
        assert first is not None
        assert newest_session_digest(auth) == tokens.digest(first)

        second = auth.create_session(EMAIL)
        assert second is not None
        assert newest_session_digest(auth) == tokens.digest(second)

    def test_an_unknown_email_gets_no_session(self, auth: Auth) -> None:
        assert auth.create_session("nobody@example.com") is None


@pytest.mark.usefixtures("registered")
class TestLogout:
    def test_logout_ends_only_the_session_in_its_cookie(self, app: Flask) -> None:
        laptop, phone = app.test_client(), app.test_client()
        log_in(laptop, device="laptop")
        log_in(phone, device="phone")

        response = laptop.delete("/sessions")

        assert response.status_code == 302
        assert laptop.get("/profile").status_code == 403
        assert phone.get("/profile").status_code == 200

    def test_the_logged_out_session_id_no_longer_works_even_if_replayed(
        self, app: Flask, auth: Auth
    ) -> None:
        client = app.test_client()
        session_id = log_in(client)
        client.delete("/sessions")

        assert auth.get_user_from_session_id(session_id) is None
        replay = app.test_client()
        replay.set_cookie("session_id", session_id)
        assert replay.get("/profile").status_code == 403

    def test_logout_without_a_live_session_is_403(self, client: FlaskClient) -> None:
        assert client.delete("/sessions").status_code == 403

    def test_ending_the_newest_session_records_the_previous_one_as_newest(
        self, app: Flask, auth: Auth
    ) -> None:
        laptop, phone = app.test_client(), app.test_client()
        laptop_id = log_in(laptop, device="laptop")
        log_in(phone, device="phone")

        phone.delete("/sessions")

        assert newest_session_digest(auth) == tokens.digest(laptop_id)


@pytest.mark.usefixtures("registered")
class TestDestroySession:
    def test_destroy_session_ends_every_session_of_the_user(self, auth: Auth) -> None:
        session_ids = [auth.create_session(EMAIL) for _ in range(3)]
        user = auth.db.find_user_by(email=EMAIL)

        auth.destroy_session(user.id)

        assert [auth.get_user_from_session_id(s) for s in session_ids] == [None, None, None]

    def test_destroy_session_sets_users_session_id_to_none(self, auth: Auth) -> None:
        auth.create_session(EMAIL)
        auth.create_session(EMAIL)
        user = auth.db.find_user_by(email=EMAIL)

        auth.destroy_session(user.id)

        assert newest_session_digest(auth) is None

    def test_destroy_session_leaves_other_users_logged_in(self, auth: Auth) -> None:
        auth.create_session(EMAIL)
        other = auth.create_session(OTHER_EMAIL)
        user = auth.db.find_user_by(email=EMAIL)

        auth.destroy_session(user.id)

        found = auth.get_user_from_session_id(other)
        assert found is not None
        assert found.email == OTHER_EMAIL


@pytest.mark.usefixtures("registered")
class TestIdleTimeout:
    def test_a_session_idle_for_30_minutes_ends(self, auth: Auth, clock: FakeClock) -> None:
        session_id = auth.create_session(EMAIL)
        clock.advance(minutes=29, seconds=59)
        assert auth.get_user_from_session_id(session_id) is not None

        clock.advance(minutes=30)

        assert auth.get_user_from_session_id(session_id) is None

    def test_use_keeps_a_session_alive_past_the_idle_timeout(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = auth.create_session(EMAIL)
        for _ in range(4):
            clock.advance(minutes=20)
            assert auth.get_user_from_session_id(session_id) is not None

    def test_an_idle_session_is_refused_over_http(
        self, client: FlaskClient, clock: FakeClock
    ) -> None:
        log_in(client)

        clock.advance(minutes=31)

        assert client.get("/profile").status_code == 403

    def test_the_idle_timeout_is_a_setting(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_idle_timeout=timedelta(minutes=5)))
        session_id = auth.create_session(EMAIL)
        clock.advance(minutes=4)
        assert auth.get_user_from_session_id(session_id) is not None

        clock.advance(minutes=6)

        assert auth.get_user_from_session_id(session_id) is None


@pytest.mark.usefixtures("registered")
class TestAbsoluteLifetime:
    def test_a_session_in_constant_use_ends_after_8_hours(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = auth.create_session(EMAIL)
        for _ in range(47):  # every 10 minutes until 7 h 50 min
            clock.advance(minutes=10)
            assert auth.get_user_from_session_id(session_id) is not None

        clock.advance(minutes=10)

        assert auth.get_user_from_session_id(session_id) is None

    def test_a_session_past_its_lifetime_is_refused_over_http(
        self, client: FlaskClient, clock: FakeClock
    ) -> None:
        log_in(client)
        for _ in range(16):  # every 29 minutes, never idle for long, until 7 h 44 min
            clock.advance(minutes=29)
            assert client.get("/profile").status_code == 200

        clock.advance(minutes=16)

        assert client.get("/profile").status_code == 403

    def test_the_lifetime_is_a_setting(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_lifetime=timedelta(hours=1)))
        session_id = auth.create_session(EMAIL)
        clock.advance(minutes=25)
        assert auth.get_user_from_session_id(session_id) is not None
        clock.advance(minutes=25)
        assert auth.get_user_from_session_id(session_id) is not None

        clock.advance(minutes=10)

        assert auth.get_user_from_session_id(session_id) is None


@pytest.mark.usefixtures("registered")
class TestLastUsed:
    def test_requests_within_half_a_minute_do_not_write_last_used_at(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = auth.create_session(EMAIL)
        created = clock.now
        for seconds in (1, 10, 10, 8):  # 29 s after login in all
            clock.advance(seconds=seconds)
            assert auth.get_user_from_session_id(session_id) is not None

        assert stored_last_used(engine) == created

    def test_a_resolved_session_carries_its_clocks_as_aware_utc_on_every_backend(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = auth.create_session(EMAIL)

        live = auth.sessions.resolve(session_id)

        assert live is not None
        assert live.last_used_at == clock.now
        assert live.last_used_at.utcoffset() == timedelta(0)
        assert live.expires_at.utcoffset() == timedelta(0)
        assert live.expires_at > live.last_used_at

    def test_a_request_a_minute_later_writes_last_used_at(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = auth.create_session(EMAIL)
        clock.advance(seconds=30)
        auth.get_user_from_session_id(session_id)
        clock.advance(seconds=31)

        auth.get_user_from_session_id(session_id)

        assert stored_last_used(engine) == clock.now

    def test_last_used_at_is_not_written_again_within_half_a_minute_of_the_last_write(
        self, client: FlaskClient, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(client)
        clock.advance(minutes=2)
        client.get("/profile")
        written = clock.now
        clock.advance(seconds=29)

        client.get("/profile")

        assert stored_last_used(engine) == written

    def test_sessions_last_written_together_come_due_apart(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        # Twenty devices log in in the same second; each is due between 30 and 60 s later.
        session_ids = [auth.create_session(EMAIL) for _ in range(20)]
        created = clock.now
        clock.advance(seconds=45)

        for session_id in session_ids:
            assert auth.get_user_from_session_id(session_id) is not None

        with engine.connect() as connection:
            stored = connection.execute(select(sessions_table.c.last_used_at)).scalars().all()
        written = [moment for moment in stored if as_utc(moment) > created]
        assert 0 < len(written) < len(session_ids)


@pytest.mark.usefixtures("registered")
class TestListSessions:
    def test_lists_each_session_of_the_caller_with_its_details(
        self, app: Flask, clock: FakeClock
    ) -> None:
        laptop, phone = app.test_client(), app.test_client()
        laptop_login = clock.now
        log_in(laptop, device="Laptop Firefox")
        clock.advance(minutes=5)
        phone_login = clock.now
        log_in(phone, device="Phone Safari")
        clock.advance(minutes=5)

        sessions = session_listing(laptop)

        by_agent = {entry["user_agent"]: entry for entry in sessions}
        assert set(by_agent) == {"Laptop Firefox", "Phone Safari"}
        assert datetime.fromisoformat(by_agent["Phone Safari"]["created_at"]) == phone_login
        assert datetime.fromisoformat(by_agent["Phone Safari"]["last_used_at"]) == phone_login
        assert datetime.fromisoformat(by_agent["Laptop Firefox"]["created_at"]) == laptop_login
        # Listing is a use of the laptop's session, more than a minute after its last write.
        assert datetime.fromisoformat(by_agent["Laptop Firefox"]["last_used_at"]) == clock.now

    def test_marks_only_the_callers_session_as_current(self, app: Flask) -> None:
        laptop, phone = app.test_client(), app.test_client()
        log_in(laptop, device="laptop")
        log_in(phone, device="phone")

        currents = {entry["user_agent"]: entry["current"] for entry in session_listing(phone)}

        assert currents == {"laptop": False, "phone": True}

    def test_never_shows_a_session_id(self, app: Flask) -> None:
        laptop, phone = app.test_client(), app.test_client()
        session_ids = [log_in(laptop, device="laptop"), log_in(phone, device="phone")]

        body = laptop.get("/sessions").get_data(as_text=True)

        for session_id in session_ids:
            assert session_id not in body
            assert tokens.digest(session_id) not in body

    def test_does_not_list_other_users_sessions(self, app: Flask) -> None:
        mine, theirs = app.test_client(), app.test_client()
        log_in(mine, device="mine")
        log_in(theirs, OTHER_EMAIL, OTHER_PASSWORD, device="theirs")

        assert [entry["user_agent"] for entry in session_listing(mine)] == ["mine"]

    def test_does_not_list_expired_sessions(self, app: Flask, clock: FakeClock) -> None:
        old, new = app.test_client(), app.test_client()
        log_in(old, device="old")
        clock.advance(minutes=40)
        log_in(new, device="new")

        assert [entry["user_agent"] for entry in session_listing(new)] == ["new"]

    def test_ids_are_random_public_ids_that_count_nothing(self, app: Flask) -> None:
        mine, theirs = app.test_client(), app.test_client()
        log_in(mine, device="first")
        log_in(theirs, OTHER_EMAIL, OTHER_PASSWORD, device="theirs")
        log_in(mine, device="second")

        public_ids = [entry["id"] for entry in session_listing(mine)]

        assert len(set(public_ids)) == 2
        for public_id in public_ids:
            assert isinstance(public_id, str)
            assert re.fullmatch(r"[A-Za-z0-9_-]{22}", public_id), public_id

    @pytest.mark.parametrize(
        ("user_agent", "device"),
        [
            (CHROME_ON_LINUX, "Chrome on Linux"),
            (FIREFOX_ON_WINDOWS, "Firefox on Windows"),
            (SAFARI_ON_IPHONE, "Mobile Safari on iOS"),
            ("curl/8.5.0", "curl"),
            ("Mozilla/5.0 (X11; Linux x86_64)", "a browser on Linux"),
            ("", "unknown device"),
            ("a header no rule knows", "unknown device"),
        ],
        ids=[
            "chrome-linux",
            "firefox-windows",
            "safari-iphone",
            "curl",
            "unknown-browser",
            "none",
            "unknown",
        ],
    )
    def test_names_the_device_beside_the_raw_user_agent(
        self, client: FlaskClient, user_agent: str, device: str
    ) -> None:
        log_in(client, device=user_agent)

        (entry,) = session_listing(client)

        assert (entry["user_agent"], entry["device"]) == (user_agent, device)

    def test_listing_without_a_session_is_403(self, client: FlaskClient) -> None:
        assert client.get("/sessions").status_code == 403


@pytest.mark.usefixtures("registered")
class TestRevokeSession:
    def test_revoking_one_of_my_sessions_ends_it_and_only_it(self, app: Flask) -> None:
        laptop, phone, tablet = app.test_client(), app.test_client(), app.test_client()
        log_in(laptop, device="laptop")
        log_in(phone, device="phone")
        log_in(tablet, device="tablet")
        phone_number = next(s["id"] for s in session_listing(laptop) if s["user_agent"] == "phone")

        response = laptop.delete(f"/sessions/{phone_number}")

        assert response.status_code == 200
        assert phone.get("/profile").status_code == 403
        assert laptop.get("/profile").status_code == 200
        assert tablet.get("/profile").status_code == 200

    def test_revoking_another_users_session_is_404_and_it_keeps_working(self, app: Flask) -> None:
        mine, theirs = app.test_client(), app.test_client()
        log_in(mine, device="mine")
        log_in(theirs, OTHER_EMAIL, OTHER_PASSWORD, device="theirs")
        (their_session,) = session_listing(theirs)

        response = mine.delete(f"/sessions/{their_session['id']}")

        assert response.status_code == 404
        assert theirs.get("/profile").status_code == 200

    def test_revoking_a_session_that_does_not_exist_is_404(self, client: FlaskClient) -> None:
        log_in(client)

        assert client.delete("/sessions/999999").status_code == 404

    def test_revoking_without_a_session_is_403_and_ends_nothing(self, app: Flask) -> None:
        mine, stranger = app.test_client(), app.test_client()
        log_in(mine)
        (session,) = session_listing(mine)

        assert stranger.delete(f"/sessions/{session['id']}").status_code == 403
        assert mine.get("/profile").status_code == 200


@pytest.mark.usefixtures("registered")
class TestSessionIdsAtRest:
    def test_no_table_holds_a_clear_session_id(
        self, app: Flask, auth: Auth, engine: Engine
    ) -> None:
        clients = [app.test_client() for _ in range(3)]
        session_ids = [log_in(client, device=f"device {n}") for n, client in enumerate(clients)]
        direct = auth.create_session(OTHER_EMAIL)
        assert direct is not None
        session_ids.append(direct)

        stored = everything_stored(engine, expected_table="sessions")

        for session_id in session_ids:
            for form in clear_forms(session_id):
                assert form not in stored
            assert auth.get_user_from_session_id(session_id) is not None


@pytest.fixture
def postgres_auth() -> Iterator[Auth]:
    """An Auth on the emptied PostgreSQL test database (SQLite has no connections to drop)."""
    url = empty_postgres()
    settings = Settings(database=DatabaseSettings(url=url), security=TEST_SECURITY)
    migrations.ensure_current(url, auto_migrate=True)
    db = DB(url)
    yield Auth(db=db, settings=settings)
    db.close()


@pytest.mark.postgres
class TestSessionCheckConnections:
    def test_the_session_check_survives_the_server_dropping_every_connection(
        self, postgres_auth: Auth
    ) -> None:
        postgres_auth.register_user(EMAIL, PASSWORD)
        session_id = postgres_auth.create_session(EMAIL)
        assert email_of(postgres_auth, session_id) == EMAIL  # a pooled connection exists
        terminate_other_connections(postgres_auth.settings.database.url)
        assert email_of(postgres_auth, session_id) == EMAIL
        assert email_of(postgres_auth, session_id) == EMAIL

    def test_the_connection_a_session_check_used_goes_back_to_transactions(
        self, postgres_auth: Auth
    ) -> None:
        postgres_auth.register_user(EMAIL, PASSWORD)
        session_id = postgres_auth.create_session(EMAIL)
        engine = postgres_auth.db.engine
        engine.dispose()  # the pool is empty: the check below makes its only connection
        assert email_of(postgres_auth, session_id) == EMAIL
        with engine.connect() as connection:  # that same connection, back from the pool
            driver_connection = connection.connection.driver_connection
            assert driver_connection is not None
            assert driver_connection.autocommit is False


@pytest.mark.usefixtures("registered")
class TestSessionCheckErrors:
    def test_a_refused_read_raises_sqlalchemys_error_without_the_digest(
        self, auth: Auth, engine: Engine
    ) -> None:
        session_id = auth.create_session(EMAIL)
        assert session_id is not None
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE disabled_users"))
        with pytest.raises(DBAPIError) as refused:
            email_of(auth, session_id)
        assert tokens.digest(session_id) not in str(refused.value)
        assert session_id not in str(refused.value)


def terminate_other_connections(url: str) -> None:
    """End every other connection to the test database, as a database restart would."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        engine.dispose()
