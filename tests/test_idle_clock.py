"""Idle clocks written off the request path (issue 14): what a served worker's writer does.

`userauth serve` starts each worker's writer (Sessions.write_idle_clocks_in_background);
tests and tools that never start it keep writing the clock inside the request
(tests/test_sessions.py TestLastUsed).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from tests.conftest import FakeClock
from tests.test_session_cache import EMAIL, StatementCounter, eventually, log_in, warm
from userauth.auth import Auth
from userauth.clock import as_utc
from userauth.idle_clock import FLUSH_SECONDS, IdleClockWriter
from userauth.models import DeviceSession
from userauth.web import create_app

# A writer built by a test flushes only when told: its thread waits this long between rounds.
NEVER = 3600.0


def stored_clock(engine: Engine) -> datetime:
    """Read the only session row's last_used_at straight from the database, as aware UTC."""
    with engine.connect() as connection:
        moment = connection.execute(select(DeviceSession.last_used_at)).scalar_one()
    return as_utc(moment).astimezone(UTC)


def session_row_id(engine: Engine) -> int:
    with engine.connect() as connection:
        row_id: int = connection.execute(select(DeviceSession.id)).scalar_one()
    return row_id


@pytest.fixture
def registered(auth: Auth) -> None:
    auth.register_user(EMAIL, "b4l0u")


@pytest.fixture
def writer(auth: Auth) -> Iterator[IdleClockWriter]:
    started = auth.sessions.write_idle_clocks_in_background()
    yield started
    started.stop()


@pytest.mark.usefixtures("registered")
class TestServedWorker:
    def test_a_use_due_a_write_is_stored_within_a_few_flush_intervals(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = log_in(auth)
        clock.advance(minutes=2)

        assert auth.resolve_session(session_id) is not None

        assert eventually(lambda: stored_clock(engine) == clock.now, 5 * FLUSH_SECONDS)

    def test_a_cached_session_due_a_write_is_answered_without_sql(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)
        clock.advance(minutes=2)
        counter = StatementCounter(auth)
        try:
            assert counter.during(lambda: auth.sessions.cached(session_id)) == 0
            assert auth.sessions.cached(session_id) is not None
        finally:
            counter.remove()

    def test_the_gate_answers_a_session_due_a_write_from_the_cache(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock
    ) -> None:
        client: FlaskClient = create_app(auth.settings, auth).test_client()
        assert client.post("/sessions", data={"email": EMAIL, "password": "b4l0u"}).status_code
        cookie = client.get_cookie("session_id")
        assert cookie is not None
        warm(auth, cookie.value)
        clock.advance(minutes=2)
        counter = StatementCounter(auth)
        try:
            statements = counter.during(lambda: client.get("/auth/verify"))
        finally:
            counter.remove()

        assert statements == 0
        assert client.get("/auth/verify").get_json()["email"] == EMAIL

    def test_without_the_writer_a_cached_session_due_a_write_takes_the_full_path(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)
        clock.advance(minutes=2)

        assert auth.sessions.cached(session_id) is None


@pytest.mark.usefixtures("registered")
class TestWriter:
    def test_stopping_writes_what_the_writer_holds(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(auth)
        writer = IdleClockWriter(auth.db.touch_sessions, interval=NEVER)
        writer.start()
        later = clock.now + timedelta(minutes=3)
        writer.touch(session_row_id(engine), later)
        assert stored_clock(engine) == clock.now

        writer.stop()

        assert stored_clock(engine) == later

    def test_a_stored_clock_never_moves_back(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(auth)
        row_id = session_row_id(engine)

        auth.db.touch_sessions({row_id: clock.now - timedelta(minutes=5)})

        assert stored_clock(engine) == clock.now

    def test_the_latest_use_of_a_session_is_the_one_written(self) -> None:
        written: list[dict[int, datetime]] = []
        writer = IdleClockWriter(lambda touches: written.append(dict(touches)), interval=NEVER)
        first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

        writer.touch(7, first + timedelta(seconds=40))
        writer.touch(7, first)
        writer.touch(8, first)
        writer.flush()

        assert written == [{7: first + timedelta(seconds=40), 8: first}]

    def test_a_failed_write_is_kept_for_the_next_flush(self) -> None:
        written: list[dict[int, datetime]] = []

        def write(touches: Mapping[int, datetime]) -> None:
            if not written:
                written.append({})
                raise OperationalError("UPDATE", {}, Exception("database is locked"))
            written.append(dict(touches))

        writer = IdleClockWriter(write, interval=NEVER)
        used = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        writer.touch(3, used)
        with pytest.raises(OperationalError):
            writer.flush()

        writer.flush()

        assert written[-1] == {3: used}
