"""Idle clocks written off the request path (issue 14): what a served worker's writer does.

`userauth serve` starts each worker's writer (Sessions.write_idle_clocks_in_background);
tests and tools that never start it keep writing the clock inside the request
(tests/test_sessions.py TestLastUsed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from tests.conftest import FakeClock
from tests.test_session_cache import (
    EMAIL,
    PASSWORD,
    StatementCounter,
    eventually,
    log_in,
    warm,
)
from userauth.auth import Auth
from userauth.clock import as_utc
from userauth.db import DB
from userauth.idle_clock import FLUSH_SECONDS, IdleClockWriter
from userauth.models import sessions_table
from userauth.web import create_app

# A writer built by a test writes only when told (or stopped): this long between its rounds.
NEVER = 3600.0
# Nothing listens on port 1: every connection is refused at once, a real outage.
UNREACHABLE = "postgresql+psycopg://postgres:secret-pw@127.0.0.1:1/nothing"


def stored_clock(engine: Engine) -> datetime:
    """Read the only session row's last_used_at straight from the database, as aware UTC."""
    with engine.connect() as connection:
        moment = connection.execute(select(sessions_table.c.last_used_at)).scalar_one()
    return as_utc(moment).astimezone(UTC)


def session_row_id(engine: Engine) -> int:
    with engine.connect() as connection:
        row_id: int = connection.execute(select(sessions_table.c.id)).scalar_one()
    return row_id


@pytest.fixture
def registered(auth: Auth) -> None:
    auth.register_user(EMAIL, PASSWORD)


@pytest.fixture
def writer(auth: Auth) -> Iterator[IdleClockWriter]:
    """The worker's writer, started, writing only when stopped (or flushed by the test)."""
    started = auth.sessions.write_idle_clocks_in_background(interval=NEVER)
    yield started
    started.stop()


@pytest.mark.usefixtures("registered")
class TestServedWorker:
    def test_a_use_due_a_write_is_recorded_not_written_in_the_request(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = log_in(auth)
        logged_in = clock.now
        clock.advance(minutes=2)

        assert auth.resolve_session(session_id) is not None
        assert stored_clock(engine) == logged_in

        writer.stop()
        assert stored_clock(engine) == clock.now

    def test_a_cached_answer_due_a_write_still_moves_the_stored_clock(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)
        clock.advance(minutes=2)

        assert auth.sessions.cached(session_id) is not None
        writer.flush()

        assert stored_clock(engine) == clock.now

    def test_the_thread_writes_within_a_few_flush_intervals(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        running = auth.sessions.write_idle_clocks_in_background()
        try:
            session_id = log_in(auth)
            clock.advance(minutes=2)
            assert auth.resolve_session(session_id) is not None

            assert eventually(lambda: stored_clock(engine) == clock.now, 5 * FLUSH_SECONDS)
        finally:
            running.stop()

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
        client = create_app(auth.settings, auth).test_client()
        login = client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200
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

    def test_without_a_writer_a_cached_session_due_a_write_takes_the_full_path(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)
        clock.advance(minutes=2)

        assert auth.sessions.cached(session_id) is None

    def test_once_the_writer_stopped_the_request_writes_the_clock_again(
        self, auth: Auth, writer: IdleClockWriter, clock: FakeClock, engine: Engine
    ) -> None:
        session_id = log_in(auth)
        writer.stop()
        clock.advance(minutes=2)

        assert auth.resolve_session(session_id) is not None

        assert stored_clock(engine) == clock.now


@pytest.mark.usefixtures("registered")
class TestStoredClock:
    def test_stopping_writes_what_the_writer_holds(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(auth)
        writer = IdleClockWriter(auth.db.touch_sessions, interval=NEVER)
        writer.start()
        later = clock.now + timedelta(minutes=3)
        assert writer.record(session_row_id(engine), later)
        assert stored_clock(engine) == clock.now

        writer.stop()

        assert stored_clock(engine) == later

    def test_a_batch_never_moves_a_stored_clock_back(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(auth)

        auth.db.touch_sessions({session_row_id(engine): clock.now - timedelta(minutes=5)})

        assert stored_clock(engine) == clock.now

    def test_a_request_never_moves_a_stored_clock_back(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        log_in(auth)

        auth.db.touch_session(session_row_id(engine), clock.now - timedelta(minutes=5))

        assert stored_clock(engine) == clock.now


class TestWriter:
    def test_a_writer_never_started_refuses_touches(self) -> None:
        writer = IdleClockWriter(lambda touches: None, interval=NEVER)

        assert not writer.record(1, datetime(2026, 1, 1, tzinfo=UTC))

    def test_the_latest_use_of_a_session_is_the_one_written(self) -> None:
        written: list[dict[int, datetime]] = []
        writer = IdleClockWriter(lambda touches: written.append(dict(touches)), interval=NEVER)
        writer.start()
        first = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

        writer.record(7, first + timedelta(seconds=40))
        writer.record(7, first)
        writer.record(8, first)
        writer.stop()

        assert written == [{7: first + timedelta(seconds=40), 8: first}]

    def test_a_failed_write_is_kept_for_the_next_flush(self) -> None:
        written: list[dict[int, datetime]] = []

        def write(touches: Mapping[int, datetime]) -> None:
            if not written:
                written.append({})
                raise OperationalError("UPDATE", {}, Exception("database is locked"))
            written.append(dict(touches))

        writer = IdleClockWriter(write, interval=NEVER)
        writer.start()
        used = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        writer.record(3, used)
        with pytest.raises(OperationalError):
            writer.flush()

        writer.stop()

        assert written[-1] == {3: used}

    def test_an_outage_is_logged_once_with_its_cause_and_without_the_url(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        db = DB(UNREACHABLE)
        writer = IdleClockWriter(db.touch_sessions, interval=0.02)
        try:
            with caplog.at_level("INFO", logger="userauth.idle_clock"):
                writer.start()
                writer.record(1, datetime(2026, 1, 1, tzinfo=UTC))
                time.sleep(0.3)  # a dozen rounds, all failing
                writer.stop()
        finally:
            db.close()

        lines = [r.getMessage() for r in caplog.records if r.name == "userauth.idle_clock"]
        assert len(lines) == 1
        assert lines[0].startswith("idle clocks not written: ")
        assert "secret-pw" not in caplog.text
