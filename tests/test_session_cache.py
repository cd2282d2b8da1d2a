"""The session cache, in process: hits run no SQL, every way a session ends reaches it, the
idle clock stays right, and a lost broadcast channel sends checks back to the database.

Two Auths on one database stand for two server processes: each has its own store, cache and
broadcast receiver (PostgreSQL LISTEN connection, or its own map of the SQLite counter file).
tests/test_session_cache_servers.py repeats the cross-process checks with real servers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from tests.conftest import TEST_SECURITY, FakeClock
from userauth import passwords
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.db.change_file import RECHECK_SECONDS, ChangeFile
from userauth.db.change_listener import APPLICATION_NAME
from userauth.settings import Settings, SettingsError

EMAIL = "cache@example.com"
PASSWORD = "b4l0u"
NEW_PASSWORD = "n3w-pa55word"
# PostgreSQL delivers NOTIFY asynchronously: what must be seen "at once" is polled this long.
DELIVERY = 1.0
# A listener that was cut off reconnects within this (RECONNECT_DELAY plus slack for a busy CI).
RECOVERY = 10.0


class StatementCounter:
    """Count the statements an Auth's engine sends (SQLAlchemy's before_cursor_execute)."""

    def __init__(self, auth: Auth) -> None:
        self.count = 0
        self._engine = auth.db.engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def during(self, check: Callable[[], object]) -> int:
        before = self.count
        check()
        return self.count - before

    def remove(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def statements(auth: Auth) -> Iterator[StatementCounter]:
    counter = StatementCounter(auth)
    yield counter
    counter.remove()


@pytest.fixture
def other(make_auth: Callable[..., Auth]) -> Auth:
    """A second Auth on the same database: another server process, as far as the cache goes."""
    return make_auth()


def email_of(auth: Auth, session_id: str) -> str | None:
    live = auth.resolve_session(session_id)
    return None if live is None else live.email


def eventually(condition: Callable[[], bool], within: float) -> bool:
    """Tell whether the condition held at some check before `within` seconds passed."""
    deadline = time.monotonic() + within
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def warm(auth: Auth, session_id: str, statements: StatementCounter | None = None) -> None:
    """Check the session until a check is a cache hit (the listener starts on first use)."""
    if statements is None:
        counter = StatementCounter(auth)
        try:
            warm(auth, session_id, counter)
        finally:
            counter.remove()
        return
    assert eventually(lambda: statements.during(lambda: email_of(auth, session_id)) == 0, 5)


def log_in(auth: Auth) -> str:
    result = auth.login(EMAIL, PASSWORD)
    assert result.session_id is not None
    return result.session_id


@pytest.fixture
def registered(auth: Auth) -> None:
    auth.register_user(EMAIL, PASSWORD)


@pytest.mark.usefixtures("registered")
class TestHits:
    def test_a_cached_check_runs_no_sql(self, auth: Auth, statements: StatementCounter) -> None:
        session_id = log_in(auth)
        assert statements.during(lambda: email_of(auth, session_id)) == 1

        warm(auth, session_id, statements)

        assert statements.during(lambda: email_of(auth, session_id)) == 0
        assert email_of(auth, session_id) == EMAIL

    def test_with_the_cache_off_every_check_reads_the_database(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_cache_size=0))
        session_id = log_in(auth)
        counter = StatementCounter(auth)
        try:
            reads = [counter.during(lambda: email_of(auth, session_id)) for _ in range(5)]
        finally:
            counter.remove()
        assert reads == [1] * 5

    def test_an_unknown_session_is_never_cached(
        self, auth: Auth, statements: StatementCounter
    ) -> None:
        warm(auth, log_in(auth), statements)
        reads = [statements.during(lambda: email_of(auth, "not-a-session")) for _ in range(3)]
        assert reads == [1] * 3

    def test_the_cache_keeps_at_most_its_size(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_cache_size=2))
        first, second, third = log_in(auth), log_in(auth), log_in(auth)
        counter = StatementCounter(auth)
        try:
            for session_id in (first, second, third):
                warm(auth, session_id, counter)
            # The least recently used entry went: it is read again.
            assert counter.during(lambda: email_of(auth, first)) == 1
        finally:
            counter.remove()


def end_by_logout(auth: Auth, session_id: str) -> None:
    live = auth.require_session(session_id)
    auth.end_session(live)


def end_by_revocation(auth: Auth, session_id: str) -> None:
    views = auth.list_sessions(auth.require_session(session_id))
    (target,) = [view.id for view in views if view.current]
    auth.revoke_session(auth.require_session(log_in(auth)), target)


def end_as_another_device(auth: Auth, _session_id: str) -> None:
    auth.end_other_sessions(auth.require_session(log_in(auth)))


def end_by_password_change(auth: Auth, _session_id: str) -> None:
    auth.change_password(auth.require_session(log_in(auth)), PASSWORD, NEW_PASSWORD)


def end_by_reset(auth: Auth, _session_id: str) -> None:
    auth.reset_password(EMAIL, auth.get_reset_password_token(EMAIL), NEW_PASSWORD)


def end_by_disabling(auth: Auth, _session_id: str) -> None:
    Admin(auth).disable_user(EMAIL)


def end_by_deletion(auth: Auth, _session_id: str) -> None:
    Admin(auth).delete_user(EMAIL)


def end_by_admin_revocation(auth: Auth, _session_id: str) -> None:
    Admin(auth).revoke_sessions(EMAIL)


def end_by_destroy_session(auth: Auth, session_id: str) -> None:
    auth.destroy_session(auth.require_session(session_id).user_id)


ENDINGS = [
    end_by_logout,
    end_by_revocation,
    end_as_another_device,
    end_by_password_change,
    end_by_reset,
    end_by_disabling,
    end_by_deletion,
    end_by_admin_revocation,
    end_by_destroy_session,
]


@pytest.mark.usefixtures("registered")
class TestEndingsReachEveryCache:
    @pytest.mark.parametrize("end", ENDINGS, ids=lambda end: end.__name__)
    def test_a_session_ended_through_one_auth_is_refused_by_the_other_at_once(
        self, auth: Auth, other: Auth, end: Callable[[Auth, str], None]
    ) -> None:
        session_id = log_in(auth)
        warm(other, session_id)

        end(auth, session_id)

        assert eventually(lambda: email_of(other, session_id) is None, DELIVERY)

    @pytest.mark.parametrize("end", ENDINGS, ids=lambda end: end.__name__)
    def test_the_process_that_ended_a_session_refuses_it_at_once(
        self, auth: Auth, end: Callable[[Auth, str], None]
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)

        end(auth, session_id)

        # No wait: a process sees its own writes before its listener hears them back.
        assert email_of(auth, session_id) is None

    def test_the_process_that_changed_a_password_checks_the_next_change_against_it(
        self, auth: Auth
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)

        auth.change_password(auth.require_session(session_id), PASSWORD, NEW_PASSWORD)

        auth.change_password(auth.require_session(session_id), NEW_PASSWORD, PASSWORD)

    def test_a_changed_email_reaches_the_other_cache(self, auth: Auth, other: Auth) -> None:
        session_id = log_in(auth)
        warm(other, session_id)
        user_id = auth.require_session(session_id).user_id

        auth.db.update_user(user_id, email="renamed@example.com")

        assert eventually(lambda: email_of(other, session_id) == "renamed@example.com", DELIVERY)

    def test_the_kept_session_of_a_password_change_carries_the_new_hash(
        self, auth: Auth, other: Auth
    ) -> None:
        session_id = log_in(auth)
        warm(other, session_id)

        auth.change_password(auth.require_session(session_id), PASSWORD, NEW_PASSWORD)

        # The other process checks a later change's current password against this hash.
        def carries_the_new_hash() -> bool:
            live = other.resolve_session(session_id)
            return live is not None and passwords.verify(NEW_PASSWORD, live.hashed_password)

        assert eventually(carries_the_new_hash, DELIVERY)

    def test_a_session_ended_while_the_other_read_it_is_not_cached(
        self, auth: Auth, other: Auth
    ) -> None:
        session_id = log_in(auth)
        ended: list[bool] = []

        def end_after_the_read(*_args: Any) -> None:
            # The read has run and returned the live session; it ends before it is cached.
            if not ended:
                ended.append(True)
                end_by_logout(auth, session_id)

        event.listen(other.db.engine, "after_cursor_execute", end_after_the_read)
        try:
            email_of(other, session_id)
        finally:
            event.remove(other.db.engine, "after_cursor_execute", end_after_the_read)

        assert ended == [True]
        assert eventually(lambda: email_of(other, session_id) is None, DELIVERY)
        assert email_of(other, session_id) is None


@pytest.mark.usefixtures("registered")
class TestIdleClock:
    def test_a_cached_session_idle_past_the_timeout_is_refused(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)

        clock.advance(minutes=30)

        assert email_of(auth, session_id) is None

    def test_cache_hits_still_move_the_stored_idle_clock(
        self, auth: Auth, other: Auth, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(auth, session_id)
        for _ in range(4):  # 40 minutes of use, every 10: longer than the idle timeout
            clock.advance(minutes=10)
            assert email_of(auth, session_id) == EMAIL

        # The other process never saw a use: only the stored idle clock keeps it alive.
        assert email_of(other, session_id) == EMAIL

    def test_another_processs_stale_idle_clock_does_not_end_a_session_early(
        self, auth: Auth, other: Auth, clock: FakeClock
    ) -> None:
        session_id = log_in(auth)
        warm(other, session_id)  # the other process caches last use at login
        clock.advance(minutes=20)
        assert email_of(auth, session_id) == EMAIL  # a use through this one
        clock.advance(minutes=15)  # 35 min after login, 15 min after the last use

        assert email_of(other, session_id) == EMAIL


def terminate_listeners(database_url: str) -> int:
    """End the backends of every session listener on the test database; return how many."""
    engine: Engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            ended = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(ended)


@pytest.mark.usefixtures("registered")
class TestLostChannel:
    def test_a_cut_listener_leaves_checks_right_and_comes_back(
        self, auth: Auth, other: Auth, database_url: str
    ) -> None:
        if not database_url.startswith("postgresql"):
            pytest.skip("the LISTEN connection is PostgreSQL's")
        session_id = log_in(auth)
        warm(other, session_id)

        assert terminate_listeners(database_url) >= 1
        end_by_logout(auth, session_id)

        assert eventually(lambda: email_of(other, session_id) is None, DELIVERY)
        # Back: a new session is served from the cache again.
        second = log_in(auth)
        warm(other, second)

    def test_a_deleted_counter_file_starts_the_cache_empty(
        self, auth: Auth, statements: StatementCounter, database_url: str
    ) -> None:
        if not database_url.startswith("sqlite"):
            pytest.skip("the counter file is SQLite's")
        session_id = log_in(auth)
        warm(auth, session_id, statements)

        os.unlink(counter_file(database_url))
        time.sleep(RECHECK_SECONDS * 2)  # readers look at the path this often

        assert statements.during(lambda: email_of(auth, session_id)) == 1
        assert statements.during(lambda: email_of(auth, session_id)) == 0

    def test_a_session_ended_after_the_file_was_deleted_is_refused(
        self, auth: Auth, other: Auth, database_url: str
    ) -> None:
        if not database_url.startswith("sqlite"):
            pytest.skip("the counter file is SQLite's")
        session_id = log_in(auth)
        warm(auth, session_id)

        os.unlink(counter_file(database_url))
        end_by_logout(other, session_id)  # bumps a new file at the same path

        assert counter_file(database_url).exists()
        assert eventually(lambda: email_of(auth, session_id) is None, DELIVERY)


def counter_file(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///") + "-session-changes")


class TestSettings:
    @pytest.mark.parametrize(
        ("environ", "size"),
        [
            ({}, 10_000),
            ({"USERAUTH_SESSION_CACHE": "off"}, 0),
            ({"USERAUTH_SESSION_CACHE": "on", "USERAUTH_SESSION_CACHE_SIZE": "50"}, 50),
            ({"USERAUTH_SESSION_CACHE": "off", "USERAUTH_SESSION_CACHE_SIZE": "50"}, 0),
        ],
        ids=["default", "off", "sized", "off-wins"],
    )
    def test_the_cache_size_comes_from_the_environment(
        self, environ: dict[str, str], size: int
    ) -> None:
        assert Settings.from_env(environ).security.session_cache_size == size

    @pytest.mark.parametrize(
        ("environ", "variable"),
        [
            ({"USERAUTH_SESSION_CACHE": "maybe"}, "USERAUTH_SESSION_CACHE"),
            ({"USERAUTH_SESSION_CACHE_SIZE": "0"}, "USERAUTH_SESSION_CACHE_SIZE"),
            ({"USERAUTH_SESSION_CACHE_SIZE": "lots"}, "USERAUTH_SESSION_CACHE_SIZE"),
        ],
        ids=["not-a-flag", "zero", "not-a-number"],
    )
    def test_a_bad_value_stops_start_up_naming_the_variable(
        self, environ: dict[str, str], variable: str
    ) -> None:
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env(environ)


class TestCounterFileUnderThreads:
    def test_threads_reading_while_the_file_is_replaced_never_fail(self, tmp_path: Path) -> None:
        # A worker's request threads read the map while one of them remaps a replaced file:
        # no reader may find its map closed under it (a 500 in CI before the fix).
        path = tmp_path / "userauth.db-session-changes"
        changes = ChangeFile(str(path))
        failures: list[BaseException] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                try:
                    changes.version()
                    changes.user_version(7)
                except BaseException as error:
                    failures.append(error)
                    return

        readers = [threading.Thread(target=read) for _ in range(16)]
        for reader in readers:
            reader.start()
        try:
            for _ in range(20):  # each replacement is remapped within RECHECK_SECONDS
                replacement = tmp_path / "replacement"
                replacement.write_bytes(b"\0" * 8)
                os.replace(replacement, path)
                time.sleep(RECHECK_SECONDS * 1.5)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
            changes.close()

        assert failures == []
