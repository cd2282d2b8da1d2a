"""Outages answer 503, not 500 (issue 12, item 1).

An unavailable database (unreachable, dropped, read-only, locked past the busy timeout)
answers 503 JSON with Retry-After and logs one line naming the cause; the service recovers by
itself when it is back; /readyz is 503 while writes fail; a unit of work on a pooled
connection the server killed runs once more, unseen; and a genuine bug is still a 500.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from werkzeug.test import TestResponse

from tests.conftest import IN_CI, TEST_SECURITY, FakeClock, empty_postgres, free_port
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.settings import SESSION_COOKIE, DatabaseSettings, Section, Settings, SettingsError
from userauth.web import create_app

PASSWORD = "correct horse battery staple"
# Two password changes that undo each other, so a loop can go on changing it.
PASSWORDS = [
    {"password": PASSWORD, "new_password": PASSWORD + "!"},
    {"password": PASSWORD + "!", "new_password": PASSWORD},
]
KILLED_ROUNDS = 20
# Root ignores file modes: the test makes the file immutable instead.
CHATTR = "/usr/bin/chattr"
MOUNT, UMOUNT = "/usr/bin/mount", "/usr/bin/umount"
BASIC = "Basic " + base64.b64encode(b"a-client:its-secret").decode("ascii")
# Every route that reads or writes the database, with a request that reaches the database.
# A passkey answer whose challenge can be read: checking it reads the database.
PASSKEY_ANSWER = {
    "id": "AAAA",
    "response": {
        "clientDataJSON": base64.urlsafe_b64encode(
            b'{"type":"webauthn.get","challenge":"AAAA","origin":"http://localhost"}'
        ).decode()
    },
}
DATABASE_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/users", {"email": "new@example.com", "password": PASSWORD}),
    ("POST", "/sessions", {"email": "ann@example.com", "password": PASSWORD}),
    ("DELETE", "/sessions", {}),
    ("GET", "/profile", {}),
    ("POST", "/reset_password", {"email": "ann@example.com"}),
    (
        "PUT",
        "/reset_password",
        {"email": "ann@example.com", "reset_token": "t" * 43, "new_password": PASSWORD + "!"},
    ),
    ("GET", "/sessions", {}),
    ("DELETE", "/sessions/1", {}),
    ("PUT", "/profile/password", {"password": PASSWORD, "new_password": PASSWORD + "!"}),
    ("GET", "/auth/verify", {}),
    ("POST", "/sessions/second-factor", {"code": "123456"}),
    ("POST", "/sessions/reauthenticate", {"password": PASSWORD}),
    ("GET", "/factors", {}),
    ("POST", "/factors/totp", {}),
    ("PUT", "/factors/totp", {"code": "123456"}),
    ("DELETE", "/factors/totp", {}),
    ("POST", "/factors/recovery-codes", {}),
    ("GET", "/me", {}),
    ("POST", "/email/verification", {}),
    ("PUT", "/email/verification", {"token": "t" * 43}),
    ("PUT", "/profile/email", {"new_email": "new@example.com"}),
    ("PUT", "/email/change", {"token": "t" * 43}),
    ("DELETE", "/account", {}),
    ("GET", "/account/export", {}),
    ("POST", "/passkeys/registration/options", {}),
    ("POST", "/passkeys/registration", {"credential": PASSKEY_ANSWER}),
    ("GET", "/passkeys", {}),
    ("PATCH", "/passkeys/1", {"name": "Laptop"}),
    ("DELETE", "/passkeys/1", {}),
    ("POST", "/sessions/passkey/options", {}),
    ("POST", "/sessions/passkey", {"credential": PASSKEY_ANSWER}),
    ("POST", "/users/passkey/options", {"email": "new@example.com"}),
    ("POST", "/users/passkey", {"credential": PASSKEY_ANSWER}),
    ("POST", "/sessions/reauthenticate/passkey/options", {}),
    ("POST", "/sessions/reauthenticate/passkey", {"credential": PASSKEY_ANSWER}),
    # The OpenID Connect provider's (issue 27): Authlib reads the client's credentials from
    # the Authorization header, and a token request's fields from the query string too.
    ("GET", "/oauth2/jwks", {}),
    ("GET", "/oauth2/authorize", {}),
    ("POST", "/oauth2/authorize", {}),
    ("POST", "/oauth2/token?grant_type=refresh_token&refresh_token=r", {"Authorization": BASIC}),
    ("GET", "/oauth2/userinfo", {"Authorization": "Bearer " + "t" * 42}),
    ("POST", "/oauth2/userinfo", {"Authorization": "Bearer " + "t" * 42}),
    ("POST", "/oauth2/revoke?token=t", {"Authorization": BASIC}),
    ("POST", "/oauth2/introspect?token=t", {"Authorization": BASIC}),
    ("GET", "/oauth2/logout", {}),
    ("POST", "/oauth2/logout", {}),
]
# The OpenAPI paths of the table's paths that carry an id.
TEMPLATES = {"/sessions/1": "/sessions/{id}", "/passkeys/1": "/passkeys/{passkey_id}"}
ROUTE_IDS = [f"{method} {path}" for method, path, _ in DATABASE_ROUTES]
# The routes that need no database, and keep answering through an outage.
DATABASE_FREE_ROUTES = [
    "/",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/.well-known/openid-configuration",
]


def ask(client: FlaskClient, method: str, path: str, body: dict[str, Any]) -> TestResponse:
    """Send one request with a session cookie (a stranger's: the check still reads)."""
    client.set_cookie(SESSION_COOKIE, secrets.token_urlsafe(32))
    # And a pending login's cookie: the second step reads the database for it.
    client.set_cookie("login_challenge", secrets.token_urlsafe(24))
    return send(client, method, path, body)


def send(client: FlaskClient, method: str, path: str, body: dict[str, str]) -> TestResponse:
    """Send a table's request: its "Authorization" as the header, the rest as JSON."""
    headers = {name: value for name, value in body.items() if name == "Authorization"}
    fields = {name: value for name, value in body.items() if name != "Authorization"}
    return client.open(path, method=method, json=fields or None, headers=headers)


def assert_unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.is_json
    assert set(response.json or {}) == {"message"}
    assert int(response.headers["Retry-After"]) > 0


def build_client(url: str, clock: FakeClock, *sections: Section) -> tuple[FlaskClient, Auth]:
    """An app on `url` whose schema is current; sections given replace the settings' own."""
    migrations.ensure_current(url, auto_migrate=True)
    settings = Settings(database=DatabaseSettings(url=url), security=TEST_SECURITY)
    settings = settings.with_sections(*sections)
    db = DB(url, sqlite_busy_timeout_ms=settings.database.sqlite_busy_timeout_ms)
    auth = Auth(db=db, settings=settings, clock=clock)
    return create_app(settings, auth).test_client(), auth


def service_events(captured: str) -> list[dict[str, Any]]:
    """The JSON log lines but the access log's (one line per request, whatever happens)."""
    events = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [event for event in events if event["logger"] != "userauth.access"]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file read-only for this process; root ignores modes, so it is made immutable."""
    path.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        done = subprocess.run([CHATTR, "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            path.chmod(0o644)
            pytest.skip(f"running as root and chattr +i failed: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        if immutable:
            subprocess.run([CHATTR, "-i", str(path)], check=True)
        path.chmod(0o644)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "userauth.db"


class TestReadOnlyDatabase:
    @pytest.mark.parametrize(("method", "path", "body"), DATABASE_ROUTES, ids=ROUTE_IDS)
    def test_every_database_route_answers_503_with_retry_after(
        self, sqlite_file: Path, clock: FakeClock, method: str, path: str, body: dict[str, Any]
    ) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        with read_only(sqlite_file):
            assert_unavailable(ask(client, method, path, body))
            auth.db.close()

    def test_routes_without_the_database_still_answer(
        self, sqlite_file: Path, clock: FakeClock
    ) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        with read_only(sqlite_file):
            assert [client.get(path).status_code for path in DATABASE_FREE_ROUTES] == [200] * len(
                DATABASE_FREE_ROUTES
            )
            auth.db.close()

    def test_readyz_is_503_naming_the_database(self, sqlite_file: Path, clock: FakeClock) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        with read_only(sqlite_file):
            response = client.get("/readyz")
            auth.db.close()
        assert response.status_code == 503
        assert response.json == {"message": "unavailable: database", "down": ["database"]}

    def test_logs_one_line_naming_the_cause_without_traceback(
        self, sqlite_file: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
    ) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        capsys.readouterr()
        with read_only(sqlite_file):
            client.post("/users", json={"email": "new@example.com", "password": PASSWORD})
            auth.db.close()
        events = service_events(capsys.readouterr().err)
        assert [(e["level"], e["event"]) for e in events] == [
            ("warning", "database unavailable: read-only")
        ]
        assert "exception" not in events[0]
        assert "new@example.com" not in json.dumps(events)

    def test_the_service_recovers_when_the_file_is_writable_again(
        self, sqlite_file: Path, clock: FakeClock
    ) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        with read_only(sqlite_file):
            assert_unavailable(
                client.post("/users", json={"email": "a@x.io", "password": PASSWORD})
            )
            # A connection opened on a read-only file stays read-only: the pool's are dropped
            # by the outage, and the next request opens a writable one.
        assert (
            client.post("/users", json={"email": "a@x.io", "password": PASSWORD}).status_code
            == 200
        )
        assert client.get("/readyz").status_code == 200
        auth.db.close()


class TestPagesDuringAnOutage:
    @pytest.mark.parametrize("path", ["/auth/account", "/auth/login"])
    def test_a_page_answers_an_html_503_with_retry_after(
        self, sqlite_file: Path, clock: FakeClock, path: str
    ) -> None:
        client, auth = build_client(f"sqlite:///{sqlite_file}", clock)
        token = re.search(
            r'name="csrf_token" type="hidden" value="([^"]+)"',
            client.get("/auth/login").get_data(as_text=True),
        )
        assert token is not None
        with read_only(sqlite_file):
            client.set_cookie(SESSION_COOKIE, secrets.token_urlsafe(32))
            form = {"csrf_token": token.group(1), "email": "a@example.com", "password": "pw"}
            answer = client.get(path) if path == "/auth/account" else client.post(path, data=form)
            assert (answer.status_code, answer.mimetype) == (503, "text/html")
            # A rate-limited page may carry the limiter's own, later Retry-After.
            assert int(answer.headers["Retry-After"]) >= 5
            assert "try again in a few seconds" in answer.get_data(as_text=True)
            auth.db.close()


class TestLockedDatabase:
    BUSY_TIMEOUT_MS = 200

    @contextmanager
    def locked(self, path: Path) -> Iterator[None]:
        """Hold SQLite's write lock from another connection, as a long writer would."""
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    def test_a_write_locked_past_the_busy_timeout_answers_503_then_recovers(
        self, sqlite_file: Path, clock: FakeClock
    ) -> None:
        url = f"sqlite:///{sqlite_file}"
        database = DatabaseSettings(url=url, sqlite_busy_timeout_ms=self.BUSY_TIMEOUT_MS)
        client, auth = build_client(url, clock, database)
        body = {"email": "ann@example.com", "password": PASSWORD}
        with self.locked(sqlite_file):
            assert_unavailable(client.post("/users", json=body))
            assert client.get("/readyz").status_code == 503
        assert client.post("/users", json=body).status_code == 200
        assert client.get("/readyz").status_code == 200
        auth.db.close()


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A folder on a 2 MB file system of its own (tmpfs), unmounted after the test."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is made by mounting a small tmpfs, which needs root")
    folder = Path(tempfile.mkdtemp(prefix="userauth-full-disk-"))
    done = subprocess.run(
        [MOUNT, "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run([UMOUNT, "--lazy", str(folder)], check=True)
        folder.rmdir()


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; return it (remove it to free the space)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as file, suppress(OSError):
        while True:
            file.write(bytes(64 * 1024))
    return filler


class TestFullDisk:
    def test_writes_answer_503_and_readyz_503_until_space_is_freed(
        self, small_disk: Path, clock: FakeClock
    ) -> None:
        client, auth = build_client(f"sqlite:///{small_disk / 'userauth.db'}", clock)
        log_in(client, "ann@example.com")
        filler = fill(small_disk)

        assert_unavailable(client.post("/users", json={"email": "b@x.io", "password": PASSWORD}))
        assert client.get("/readyz").status_code == 503
        # Reads still work: the session check needs no space.
        assert client.get("/profile").status_code == 200

        filler.unlink()
        assert client.get("/readyz").status_code == 200
        log_in(client, "bob@example.com")
        auth.db.close()


class TestBusyTimeoutSetting:
    def test_is_read_from_the_environment(self) -> None:
        settings = Settings.from_env({"USERAUTH_SQLITE_BUSY_TIMEOUT_MS": "250"})
        assert settings.database.sqlite_busy_timeout_ms == 250

    def test_defaults_to_30_seconds(self) -> None:
        assert Settings.from_env({}).database.sqlite_busy_timeout_ms == 30_000

    def test_a_negative_value_stops_start_up_naming_the_variable(self) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_SQLITE_BUSY_TIMEOUT_MS"):
            Settings.from_env({"USERAUTH_SQLITE_BUSY_TIMEOUT_MS": "-1"})


class TestGenuineBugs:
    def test_a_database_without_its_tables_is_still_a_500(
        self, sqlite_file: Path, clock: FakeClock
    ) -> None:
        # No migration: "no such table" is a deployment bug, not an outage to wait out.
        url = f"sqlite:///{sqlite_file}"
        settings = Settings(database=DatabaseSettings(url=url), security=TEST_SECURITY)
        auth = Auth(db=DB(url), settings=settings, clock=clock)
        client = create_app(settings, auth).test_client()
        response = client.post("/users", json={"email": "a@x.io", "password": PASSWORD})
        auth.db.close()
        assert response.status_code == 500
        assert response.json == {"message": "internal error"}


class TestDocumentation:
    def test_every_database_route_documents_its_503_with_retry_after(
        self, client: FlaskClient
    ) -> None:
        document = client.get("/openapi.json").json or {}
        for method, path, _ in DATABASE_ROUTES:
            template = TEMPLATES.get(path.partition("?")[0], path.partition("?")[0])
            answer = document["paths"][template][method.lower()]["responses"]["503"]
            assert answer["headers"]["Retry-After"]["required"], (method, path)

    def test_the_table_covers_every_route_but_those_without_a_database(
        self, client: FlaskClient
    ) -> None:
        document = client.get("/openapi.json").json or {}
        documented = {
            (method.upper(), path) for path, item in document["paths"].items() for method in item
        }
        listed = {
            (m, TEMPLATES.get(p.partition("?")[0], p.partition("?")[0]))
            for m, p, _ in DATABASE_ROUTES
        }
        free = {("GET", path) for path in [*DATABASE_FREE_ROUTES, "/readyz"]}
        assert documented - free == listed


POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
RUNUSER = "/usr/sbin/runuser"
# Bounds every step of the test's own server: a server that never starts fails, never hangs.
PG_CTL_TIMEOUT = 30


class OwnPostgres:
    """A PostgreSQL server of the test's own, in a tmp folder on a free loopback port.

    The test stops and restarts it at will, which it must never do to the shared server.
    initdb refuses to run as root, so as root it runs as the `postgres` user.
    """

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.data = folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def run(self, program: str, *arguments: str) -> None:
        command = [str(POSTGRES_BIN / program), *arguments]
        if os.geteuid() == 0:
            command = [RUNUSER, "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=PG_CTL_TIMEOUT + 10)

    def create(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self.pg_ctl("start", "-l", log, "-o", options)

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def pg_ctl(self, action: str, *options: str) -> None:
        self.run("pg_ctl", action, "-D", str(self.data), "-w", "-t", str(PG_CTL_TIMEOUT), *options)


def postgres_binaries() -> None:
    """Skip without PostgreSQL's server programs locally; fail without them in CI."""
    if (POSTGRES_BIN / "pg_ctl").exists():
        return
    reason = f"the outage test starts its own PostgreSQL and needs {POSTGRES_BIN}"
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    postgres_binaries()
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="userauth-outage-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = OwnPostgres(folder, free_port())
    try:
        server.create()
        server.start()
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def log_in(client: FlaskClient, email: str) -> None:
    """Register and log in: the client then holds a live session cookie."""
    body = {"email": email, "password": PASSWORD}
    assert client.post("/users", json=body).status_code == 200
    assert client.post("/sessions", json=body).status_code == 200


@pytest.mark.postgres
class TestPostgresStopped:
    def test_every_database_route_answers_503_then_200_after_restart(
        self, own_postgres: OwnPostgres, clock: FakeClock
    ) -> None:
        client, auth = build_client(own_postgres.url, clock)
        log_in(client, "ann@example.com")
        # A pending login's cookie: the second step reads the database for it.
        client.set_cookie("login_challenge", secrets.token_urlsafe(24))
        own_postgres.stop()
        try:
            for method, path, body in DATABASE_ROUTES:
                assert_unavailable(send(client, method, path, body))
            assert client.get("/readyz").status_code == 503
        finally:
            own_postgres.start()
        # The same app, never restarted: the pool reconnects by itself.
        assert client.get("/readyz").status_code == 200
        assert client.get("/profile").json == {"email": "ann@example.com"}
        log_in(client, "bob@example.com")
        auth.db.close()

    def test_logs_one_line_naming_the_cause(
        self, own_postgres: OwnPostgres, clock: FakeClock, capsys: pytest.CaptureFixture[str]
    ) -> None:
        client, auth = build_client(own_postgres.url, clock)
        log_in(client, "ann@example.com")
        own_postgres.stop()
        capsys.readouterr()
        try:
            client.get("/profile")
        finally:
            own_postgres.start()
        events = service_events(capsys.readouterr().err)
        assert [(e["level"], e["event"]) for e in events] == [
            ("warning", "database unavailable: cannot reach the server")
        ]
        assert "exception" not in events[0]
        auth.db.close()


class KilledConnections:
    """Ends the app's server connections with pg_terminate_backend, and counts disconnects.

    Only the app's own: they are found by the application_name the test gives its URL, so
    no other session of the shared server is ever touched.
    """

    def __init__(self, url: str) -> None:
        self.name = f"userauth-outage-{uuid.uuid4().hex[:12]}"
        self.app_url = f"{url}?application_name={self.name}"
        self._admin = create_engine(url)
        self.disconnects = 0

    def watch(self, engine: Engine) -> None:
        def seen(context: ExceptionContext) -> None:
            self.disconnects += context.is_disconnect

        event.listen(engine, "handle_error", seen)

    def kill(self) -> int:
        with self._admin.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": self.name},
            ).scalar_one()
        return int(killed)

    def close(self) -> None:
        self._admin.dispose()


@pytest.fixture
def killed_connections() -> Iterator[KilledConnections]:
    killer = KilledConnections(empty_postgres())
    yield killer
    killer.close()


@pytest.mark.postgres
class TestKilledPooledConnection:
    def test_a_write_on_a_killed_connection_is_run_once_more_unseen(
        self, killed_connections: KilledConnections, clock: FakeClock
    ) -> None:
        client, auth = build_client(killed_connections.app_url, clock)
        killed_connections.watch(auth.db.engine)
        log_in(client, "ann@example.com")
        assert killed_connections.kill() >= 1

        auth.db.add_user("bob@example.com", b"$2b$04$" + b"x" * 53)

        assert killed_connections.disconnects == 1
        assert auth.db.find_user_by_email("bob@example.com") is not None
        assert auth.db.list_users()[1] == 2
        auth.db.close()

    def test_requests_through_repeated_kills_all_succeed(
        self, killed_connections: KilledConnections, clock: FakeClock
    ) -> None:
        client, auth = build_client(killed_connections.app_url, clock)
        killed_connections.watch(auth.db.engine)
        log_in(client, "ann@example.com")
        statuses = []
        for number in range(KILLED_ROUNDS):
            assert killed_connections.kill() >= 1
            statuses.append(
                client.put("/profile/password", json=PASSWORDS[number % 2]).status_code
            )
            statuses.append(client.get("/sessions").status_code)
        assert statuses == [200] * (2 * KILLED_ROUNDS)
        assert killed_connections.disconnects >= KILLED_ROUNDS
        auth.db.close()
