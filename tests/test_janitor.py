"""The janitor: what it deletes and keeps, its batches, its lease, its metric and `db prune`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import Engine, text

from tests.conftest import TEST_BCRYPT_ROUNDS, TEST_SECURITY, FakeClock, ServerProcess
from userauth import migrations
from userauth.auth import Auth
from userauth.clock import utcnow
from userauth.db import DB
from userauth.janitor import LEASE, Janitor, PrunableKind, standard_kinds
from userauth.one_time import Purpose
from userauth.sessions import SessionPolicy
from userauth.settings import JanitorSettings, Settings, SettingsError
from userauth.web import create_app

PASSWORD = "correct horse battery staple"
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=2)
# Nothing reaches this many: every pass ends with a short batch.
NO_LIMIT = 1_000_000


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - a test's own table names


def logged_in(auth: Auth, email: str) -> str:
    """Sign `email` up if needed and return a new session id for it."""
    if auth.accounts.find(email) is None:
        auth.sign_up(email, PASSWORD)
    session_id = auth.create_session(email)
    assert session_id is not None
    return session_id


def userauth(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    variables = {"DATABASE_URL": database_url, "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS}
    return subprocess.run(
        [sys.executable, "-m", "userauth", *args],
        env={**os.environ, **variables, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth(replace(TEST_SECURITY, session_idle_timeout=IDLE, session_lifetime=LIFETIME))


class TestWhatAPassDeletes:
    def test_idle_sessions_go_and_sessions_in_use_stay(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        forgotten, used = logged_in(auth, "ann@example.com"), logged_in(auth, "bob@example.com")
        for _ in range(3):
            clock.advance(minutes=25)
            assert auth.resolve_session(used) is not None
        pruned = auth.janitor.run_once()
        assert pruned is not None
        assert pruned["sessions"] == 1
        assert auth.resolve_session(used) is not None
        assert auth.resolve_session(forgotten) is None
        assert count_rows(engine, "sessions") == 1

    def test_a_session_past_its_lifetime_goes_however_recently_used(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        used = logged_in(auth, "bob@example.com")
        for _ in range(4):
            clock.advance(minutes=29)
            assert auth.resolve_session(used) is not None
        clock.advance(minutes=5)  # 2 h 1 min after the login: past its lifetime
        assert auth.janitor.run_once() == {
            "sessions": 1, "one_time_secrets": 0, "mail_jobs": 0, "audit_events": 0,
        }  # fmt: skip
        assert count_rows(engine, "sessions") == 0

    def test_an_idle_session_is_kept_while_an_idle_clock_may_still_be_unwritten(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        # Just past the idle timeout it is dead to every check, but a process's idle clock
        # writer may hold a use not yet written: the janitor waits IDLE_CLOCK_LAG more.
        logged_in(auth, "ann@example.com")
        clock.advance(minutes=31)
        assert auth.janitor.run_once() == dict.fromkeys(auth.janitor.kinds, 0)
        clock.advance(minutes=2)
        assert auth.janitor.run_once() == {**dict.fromkeys(auth.janitor.kinds, 0), "sessions": 1}
        assert count_rows(engine, "sessions") == 0

    def test_expired_one_time_secrets_go_and_pending_ones_still_redeem(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        ann = auth.sign_up("ann@example.com", PASSWORD)
        bob = auth.sign_up("bob@example.com", PASSWORD)
        assert ann is not None
        assert bob is not None
        auth.secrets.issue(ann.id, Purpose.PASSWORD_RESET, timedelta(minutes=30))
        pending = auth.secrets.issue(bob.id, Purpose.PASSWORD_RESET, timedelta(hours=2))
        clock.advance(hours=1)
        pruned = auth.janitor.run_once()
        assert pruned is not None
        assert pruned["one_time_secrets"] == 1
        assert auth.secrets.redeem(pending, Purpose.PASSWORD_RESET).user_id == bob.id
        assert count_rows(engine, "one_time_secrets") == 1

    def test_abandoned_mail_jobs_go_and_recent_ones_stay(
        self, auth: Auth, clock: FakeClock, engine: Engine
    ) -> None:
        auth.db.enqueue_mail("reset", "ann@example.com", "", "", clock())
        clock.advance(days=2, minutes=1)
        auth.db.enqueue_mail("reset", "bob@example.com", "", "", clock())
        pruned = auth.janitor.run_once()
        assert pruned is not None
        assert pruned["mail_jobs"] == 1
        assert auth.outbox.pending() == 1

    def test_audit_events_older_than_the_retention_go(
        self, make_auth: Callable[..., Auth], clock: FakeClock, engine: Engine
    ) -> None:
        auth = make_auth(JanitorSettings(audit_retention=timedelta(days=30)))
        auth.audit.record("old", None)
        clock.advance(days=29)
        auth.audit.record("recent", None)
        clock.advance(days=2)
        pruned = auth.janitor.run_once()
        assert pruned is not None
        assert pruned["audit_events"] == 1
        assert [event.event for event in auth.db.list_audit_events()] == ["recent"]

    def test_a_second_pass_finds_nothing(self, auth: Auth, clock: FakeClock) -> None:
        logged_in(auth, "ann@example.com")
        clock.advance(days=1)
        assert auth.janitor.run_once() == {**dict.fromkeys(auth.janitor.kinds, 0), "sessions": 1}
        assert auth.janitor.run_once() == dict.fromkeys(auth.janitor.kinds, 0)


class TestBatches:
    def test_rows_are_deleted_in_batches_of_the_set_size(
        self, make_auth: Callable[..., Auth], clock: FakeClock, engine: Engine
    ) -> None:
        auth = make_auth(
            replace(TEST_SECURITY, session_lifetime=LIFETIME), JanitorSettings(batch_size=2)
        )
        for number in range(5):
            logged_in(auth, f"user{number}@example.com")
        clock.advance(hours=3)
        batches: list[tuple[str, int]] = []
        auth.janitor.on_pruned(lambda kind, count: batches.append((kind, count)))
        pruned = auth.janitor.run_once()
        assert pruned is not None
        assert pruned["sessions"] == 5
        assert batches == [("sessions", 2), ("sessions", 2), ("sessions", 1)]
        assert count_rows(engine, "sessions") == 0


def janitor_with(db: DB, clock: FakeClock, *extra: PrunableKind) -> Janitor:
    """A janitor of the standard kinds, and `extra` registered through the seam."""
    kinds = standard_kinds(db, SessionPolicy(IDLE, LIFETIME), timedelta(days=365))
    return Janitor(db, [*kinds, *extra], batch_size=100, interval=0, clock=clock)


class TestOneJanitorAtATime:
    def test_a_second_janitor_does_nothing_while_the_first_prunes(
        self, make_db: Callable[[], DB], clock: FakeClock
    ) -> None:
        second = janitor_with(make_db(), clock)
        answers: list[object] = []

        def second_runs_meanwhile(now: datetime, limit: int) -> int:
            answers.append(second.run_once())
            return 0

        first = janitor_with(make_db(), clock, PrunableKind("probe", second_runs_meanwhile))
        assert first.run_once() is not None
        assert answers == [None]
        assert second.run_once() is not None  # the first released the lease

    def test_a_holder_that_died_frees_the_lease_when_it_ends(
        self, make_db: Callable[[], DB], clock: FakeClock
    ) -> None:
        db = make_db()
        assert db.take_lease("janitor", "a worker killed since", clock(), clock() + LEASE)
        janitor = janitor_with(db, clock)
        assert janitor.run_once() is None
        clock.advance(seconds=LEASE.total_seconds() + 1)
        assert janitor.run_once() is not None

    def test_a_kind_added_through_the_seam_is_pruned_and_reported(
        self, make_db: Callable[[], DB], clock: FakeClock
    ) -> None:
        remaining = [5]

        def pending_logins(now: datetime, limit: int) -> int:
            removed = min(limit, remaining[0])
            remaining[0] -= removed
            return removed

        pruned = janitor_with(make_db(), clock, PrunableKind("pending_logins", pending_logins))
        assert pruned.run_once() == {
            "sessions": 0, "one_time_secrets": 0, "mail_jobs": 0, "audit_events": 0,
            "pending_logins": 5,
        }  # fmt: skip


class TestAuditRetentionSetting:
    def test_it_defaults_to_365_days(self) -> None:
        assert Settings.from_env({}).janitor.audit_retention == timedelta(days=365)

    def test_it_is_read_in_days(self) -> None:
        settings = Settings.from_env({"USERAUTH_AUDIT_RETENTION_DAYS": "90"})
        assert settings.janitor.audit_retention == timedelta(days=90)

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("USERAUTH_AUDIT_RETENTION_DAYS", "0"),
            ("USERAUTH_AUDIT_RETENTION_DAYS", "-5"),
            ("USERAUTH_AUDIT_RETENTION_DAYS", "a year"),
            ("USERAUTH_AUDIT_RETENTION_DAYS", "36501"),
            ("USERAUTH_JANITOR_INTERVAL_SECONDS", "-1"),
            ("USERAUTH_JANITOR_INTERVAL_SECONDS", "5m"),
            ("USERAUTH_JANITOR_BATCH_SIZE", "0"),
            ("USERAUTH_JANITOR_BATCH_SIZE", "100001"),
        ],
        ids=[
            "zero-days", "negative-days", "words", "past-a-century", "negative-interval",
            "interval-with-unit", "empty-batch", "huge-batch",
        ],
    )  # fmt: skip
    def test_a_bad_value_stops_start_up_naming_the_variable(
        self, variable: str, value: str, database_url: str
    ) -> None:
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env({variable: value})
        result = userauth(database_url, "serve", **{variable: value})
        assert result.returncode == 2
        assert variable in result.stderr


class TestMetrics:
    def test_removed_rows_are_counted_per_kind(self, auth: Auth, clock: FakeClock) -> None:
        client = create_app(auth.settings, auth).test_client()
        for number in range(3):
            logged_in(auth, f"user{number}@example.com")
        auth.audit.record("old", None)
        clock.advance(days=400)
        auth.janitor.run_once()
        scrape = client.get("/metrics").get_data(as_text=True)
        assert 'userauth_janitor_removed_total{kind="sessions"} 3.0' in scrape
        # each sign-up and login recorded an event, and the old one
        assert 'userauth_janitor_removed_total{kind="audit_events"} 7.0' in scrape
        assert 'kind="mail_jobs"' not in scrape


class TestDbPrune:
    def test_it_prints_what_it_removed_per_kind(
        self, auth: Auth, database_url: str, engine: Engine
    ) -> None:
        # `db prune` runs on real time: the test clock's sessions expired long ago.
        for number in range(2):
            logged_in(auth, f"user{number}@example.com")
        live = Auth(auth.db, auth.settings)
        logged_in(live, "live@example.com")
        result = userauth(database_url, "db", "prune", USERAUTH_AUDIT_RETENTION_DAYS="1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "kind              removed",
            "sessions          2",
            "one_time_secrets  0",
            "mail_jobs         0",
            "audit_events      4",
        ]
        assert count_rows(engine, "sessions") == 1

    def test_it_refuses_while_another_janitor_holds_the_lease(
        self, auth: Auth, database_url: str
    ) -> None:
        now = utcnow()
        assert auth.db.take_lease("janitor", "a server's janitor", now, now + LEASE)
        result = userauth(database_url, "db", "prune")
        assert result.returncode == 1
        assert "another janitor holds the lease" in result.stderr


class TestServedJanitor:
    def test_a_served_worker_prunes_and_counts_on_its_interval(
        self,
        auth: Auth,
        start_server: Callable[..., ServerProcess],
        engine: Engine,
    ) -> None:
        # The test clock's sessions expired long ago by the server's real time.
        for number in range(3):
            logged_in(auth, f"user{number}@example.com")
        server = start_server(USERAUTH_JANITOR_INTERVAL_SECONDS="1")
        deadline = time.monotonic() + 20
        while count_rows(engine, "sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_rows(engine, "sessions") == 0
        scrape = requests.get(server.url + "/metrics", timeout=5).text
        assert 'userauth_janitor_removed_total{kind="sessions"} 3.0' in scrape


def test_the_first_janitor_on_an_upgraded_database_creates_the_lease(
    database_url: str, engine: Engine, clock: FakeClock
) -> None:
    migrations.upgrade(database_url)
    db = DB(database_url)
    try:
        assert janitor_with(db, clock).run_once() is not None
    finally:
        db.close()
    assert count_rows(engine, "leases") == 1
