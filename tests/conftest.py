"""Fixtures shared by every test: a fresh database per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from tests import workers
from tests.run_databases import RunDatabases, new_run_name
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.settings import (
    DatabaseSettings,
    RateLimitSettings,
    Section,
    SecuritySettings,
    Settings,
)
from userauth.web import create_app

if TYPE_CHECKING:
    from tests.smtp import MailSink, ServiceFactory

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
# Tests turn the expensive knob down, never off: bcrypt still runs, at its lowest cost.
TEST_BCRYPT_ROUNDS = "4"
# Rate limits stay on, as in production, but far above what a load test sends from one address.
GENEROUS = "100000/minute"
GENEROUS_LIMITS = RateLimitSettings(
    login=GENEROUS,
    login_failures=GENEROUS,
    register=GENEROUS,
    reset=GENEROUS,
    reset_account=GENEROUS,
    device_failures=GENEROUS,
)
# The test settings' security section: development's, with bcrypt at its lowest cost.
TEST_SECURITY = SecuritySettings(bcrypt_rounds=int(TEST_BCRYPT_ROUNDS))


def need_service(name: str, variable: str) -> str:
    """Return the URL of a service a test needs: skip locally without it, fail in CI."""
    url = os.environ.get(variable)
    if url:
        return url
    reason = f"{name} tests need {variable} (e.g. set by .ci/run)"
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


# The run's name, set by pytest_configure: the same in the controller and every xdist worker.
_run = {"name": ""}


def need_postgres() -> str:
    """Return the URL of this process's own database of the run, created on first need.

    It is on the server TEST_DATABASE_URL names (tests/run_databases.py); the run drops it at
    its end. Skips locally when the server does not answer, fails under CI=true.
    """
    server_url = need_service("PostgreSQL", "TEST_DATABASE_URL")
    try:
        return _run_databases(server_url).url_of(workers.WORKER)
    except OperationalError as error:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error.orig}")


@functools.cache
def _run_databases(server_url: str) -> RunDatabases:
    return RunDatabases(server_url, _run["name"])


def reset_postgres(url: str) -> None:
    """Drop every table of a database of the run, so each test starts from an empty one."""
    engine = create_engine(url)
    try:
        # One statement for all of them: reflecting the schema to drop it table by table
        # cost about ten times as much, and every PostgreSQL test pays it.
        with engine.begin() as connection:
            names = connection.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).all()
            if names:
                quoted = ", ".join(f'"{name}"' for name in names)
                connection.execute(text(f"DROP TABLE {quoted} CASCADE"))
    except OperationalError as error:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error.orig}")
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in its own folder with cheap bcrypt and no inherited settings."""
    for name in list(os.environ):
        if name.startswith("USERAUTH_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("USERAUTH_BCRYPT_ROUNDS", TEST_BCRYPT_ROUNDS)
    monkeypatch.chdir(tmp_path)


# The parameters of `database_url`, by the names the `databases` marker takes.
DATABASES = {
    "sqlite": pytest.param("sqlite", id="sqlite"),
    "postgres": pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
}


@pytest.fixture(params=list(DATABASES.values()))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or this process's PostgreSQL database emptied.

    A test runs once on each database its closest `databases` marker names, on both without
    one (see `pytest_generate_tests`, and docs/development.md for which tests run on both).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return empty_postgres()


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give `database_url` only the databases named by the test's closest `databases` marker.

    `pytestmark = pytest.mark.databases("sqlite")` makes a module (or class) SQLite only, and
    `@pytest.mark.databases("sqlite", "postgres")` on a test in it puts it back on both: the
    marker nearest the test wins. It runs before pytest applies the fixture's parameters, and
    narrows them with the parametrize mark a test would write by hand (which pytest prefers to
    the fixture's own parameters); a test that parametrizes `database_url` itself keeps that.
    """
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is None or "database_url" not in metafunc.fixturenames:
        return
    unknown = [name for name in marker.args if name not in DATABASES]
    if unknown or not marker.args:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: databases() takes one or more of "
            f"{', '.join(DATABASES)}, not {marker.args!r}"
        )
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0]
        if "database_url" in [name.strip() for name in names]:
            return
    chosen = [DATABASES[name] for name in marker.args]
    metafunc.definition.add_marker(pytest.mark.parametrize("database_url", chosen, indirect=True))


def empty_postgres() -> str:
    """Return the URL of this process's database of the run, every table dropped (skip or fail
    without PostgreSQL)."""
    url = need_postgres()
    reset_postgres(url)
    return url


@contextmanager
def redis_key_prefix() -> Iterator[tuple[str, str]]:
    """Yield the test Redis URL and a key prefix of this test's own; delete its keys after."""
    url = need_service("Redis", "TEST_REDIS_URL")
    server = redis.Redis.from_url(url)
    try:
        server.ping()
    except redis.ConnectionError as error:
        server.close()
        if IN_CI:
            raise
        pytest.skip(f"Redis at TEST_REDIS_URL is unreachable: {error}")
    prefix = f"userauth-test-{uuid.uuid4().hex}"
    try:
        yield url, prefix
    finally:
        for key in server.scan_iter(f"*{prefix}*"):
            server.delete(key)
        server.close()


# Servers that share a Redis share the key of its counters' keys (as production requires).
KEY_SECRET = "0123456789abcdef" * 4


@contextmanager
def redis_storage() -> Iterator[RateLimitSettings]:
    """Limiter settings for the test Redis, under a key prefix of this test's own."""
    with redis_key_prefix() as (url, prefix):
        yield RateLimitSettings(redis_url=url, key_prefix=prefix, key_secret=KEY_SECRET)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[RateLimitSettings]:
    """Settings for the rate limiter's storage: in memory (the default), or Redis."""
    if request.param == "memory":
        yield RateLimitSettings()
        return
    with redis_storage() as settings:
        yield settings


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A connection to the test database that bypasses userauth, to read what it stored."""
    direct = create_engine(database_url)
    yield direct
    direct.dispose()


@pytest.fixture
def mail() -> Iterator[MailSink]:
    """A real SMTP server in this process, keeping every message it receives."""
    from tests.smtp import MailSink  # tests.smtp imports this module

    with MailSink.running() as sink:
        yield sink


@pytest.fixture
def make_service(database_url: str, clock: FakeClock, mail: MailSink) -> Iterator[ServiceFactory]:
    """Build apps (development or production) on the test database that mail to `mail`."""
    from tests.smtp import ServiceFactory

    factory = ServiceFactory(database_url, clock, mail)
    yield factory
    factory.close()


@pytest.fixture
def use_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point DATABASE_URL at the test database, for code that reads the environment."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


class FakeClock:
    """A clock the test moves by hand: expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Development settings on the test database, bcrypt at its lowest cost."""
    return Settings(database=DatabaseSettings(url=database_url), security=TEST_SECURITY)


@pytest.fixture
def make_auth(settings: Settings, clock: FakeClock) -> Iterator[Callable[..., Auth]]:
    """Build an Auth on the test database; sections given replace the settings' own."""
    made: list[Auth] = []

    def build(*sections: Section) -> Auth:
        chosen = settings.with_sections(*sections)
        # Building a DB touches no schema: the test creates it, as the server would.
        migrations.ensure_current(chosen.database.url, auto_migrate=True)
        made.append(Auth(db=DB(chosen.database.url), settings=chosen, clock=clock))
        return made[-1]

    yield build
    for auth in made:
        # A sender thread left running would take the next test's mail jobs (a test database
        # is reused), and fail them for want of a mailer.
        auth.outbox.stop(timeout=0)
        auth.db.close()


@pytest.fixture
def make_db(database_url: str) -> Iterator[Callable[[], DB]]:
    """Build the service's stores on the test database; each is closed after the test."""
    made: list[DB] = []

    def build() -> DB:
        # Building a DB touches no schema: the test creates it, as the server would.
        migrations.ensure_current(database_url, auto_migrate=True)
        made.append(DB(database_url))
        return made[-1]

    yield build
    for store in made:
        store.close()


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


@pytest.fixture
def app(auth: Auth) -> Flask:
    return create_app(auth.settings, auth)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The service's server, one worker: what most server-process tests start.
SERVE = [sys.executable, "-m", "userauth", "serve", "--workers", "1"]


class ServerProcess:
    """A server started as its own process in a folder of its own, e.g. `userauth serve`.

    Its output goes to a file, not a pipe: a chatty server must never block on a full pipe.
    """

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        port: int,
        cwd: Path = ROOT,
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.command, self.env, self.port, self.cwd = command, env, port, cwd
        self.pass_fds = pass_fds
        self.url = f"http://127.0.0.1:{port}"
        self.exit_status: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server is not running"
        return self._process.pid

    def start(self, timeout: float = 30) -> ServerProcess:
        """Start the process and wait until it answers; stop it again if it never does."""
        # A process group of its own: a server whose workers outlive a killed main process
        # (granian's do) is killed whole.
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=self.pass_fds,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.stop()}")
            try:
                requests.get(self.url + "/", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        output = self.stop()
        raise RuntimeError(f"server did not answer on {self.url} within {timeout}s:\n{output}")

    def output_so_far(self) -> str:
        """Return all the running process has printed until now."""
        # pread, not seek and read: the process writes through this same open file, and
        # moving its offset would make it write over what it printed.
        fd = self._output.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stop(self) -> str:
        """Stop the process (SIGTERM, then SIGKILL) and return all it printed."""
        if self._process is not None:
            process, self._process = self._process, None
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            self.exit_status = process.returncode
        self._output.seek(0)
        return self._output.read().decode(errors="replace")

    def close(self) -> None:
        self._output.close()


@pytest.fixture
def start_server(database_url: str, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers as processes on the test database; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(command: list[str] | None = None, **env_overrides: str) -> ServerProcess:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "USERAUTH_PORT": str(port),
            "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS,
            **env_overrides,
        }
        server = ServerProcess(command or SERVE, env, port, cwd=tmp_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
        server.close()


_LOCK_DIRECTORY = "userauth_run_lock_directory"
_RUN_NAME = "userauth_run_name"
_lock_directory_key = pytest.StashKey[tempfile.TemporaryDirectory[str]]()
_run_lock_key = pytest.StashKey[workers.RunLock]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand every xdist worker the run's name and the directory of its lock."""
    config: pytest.Config = node.config
    if _lock_directory_key not in config.stash:
        # Removed by the controller's pytest_unconfigure, once every worker has stopped.
        made = tempfile.TemporaryDirectory(prefix="userauth-tests-")
        config.stash[_lock_directory_key] = made
    node.workerinput[_LOCK_DIRECTORY] = config.stash[_lock_directory_key].name
    node.workerinput[_RUN_NAME] = _run["name"]


# Where the tests' folders (tmp_path) go: a RAM file system when the machine has one with room.
# A SQLite schema is made one DDL statement at a time, ~200 fsyncs per test, each a few ms on a
# disk and nothing on tmpfs; no test checks what would survive a power cut. A run leaves about
# 100 MB there, and pytest keeps the last three runs' folders.
# pytest makes its pytest-of-<user> folder there 0700 and refuses one another user owns.
RAM_FOLDER = Path("/dev/shm")  # noqa: S108
RAM_FOLDER_ROOM = 2 * 1024**3


def _test_folders_in_memory() -> None:
    """Root pytest's temporary folders in RAM_FOLDER, unless told where or it lacks room."""
    if "PYTEST_DEBUG_TEMPROOT" in os.environ or not RAM_FOLDER.is_dir():
        return
    room = os.statvfs(RAM_FOLDER)
    if room.f_bavail * room.f_frsize >= RAM_FOLDER_ROOM:
        # Read by pytest's tmp_path_factory; xdist hands each worker a folder under it.
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(RAM_FOLDER)


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        _test_folders_in_memory()
        _run["name"] = new_run_name()
    else:
        _run["name"] = workerinput[_RUN_NAME]
        config.stash[_run_lock_key] = workers.RunLock(Path(workerinput[_LOCK_DIRECTORY]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _run_lock_key in config.stash:
        config.stash[_run_lock_key].close()
    if _lock_directory_key in config.stash:
        config.stash[_lock_directory_key].cleanup()
    if getattr(config, "workerinput", None) is None:
        _drop_run_databases()


def _drop_run_databases() -> None:
    """Drop the run's databases, once every worker has stopped (also after a failed run)."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        return
    try:
        _run_databases(server_url).drop_all()
    except OperationalError as error:
        # Nothing was made if the server never answered; if it went away during the run,
        # the run's databases are left, and the person running it must hear which.
        # The terminal reporter is gone by now.
        print(f"could not drop the test databases {_run['name']}*: {error.orig}", file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """On an xdist worker, run a test marked `alone` while no other worker runs one."""
    lock = item.config.stash.get(_run_lock_key, None)
    if lock is None:
        return (yield)
    with lock.holding(alone=item.get_closest_marker("alone") is not None):
        return (yield)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in one line which backends this run tested, and why one was not."""
    passed = terminalreporter.stats.get("passed", [])
    parts = []
    for name, marker, variable in (
        ("PostgreSQL", "postgres", "TEST_DATABASE_URL"),
        ("Redis", "redis", "TEST_REDIS_URL"),
    ):
        ran = sum(1 for report in passed if marker in report.keywords)
        if ran and marker == "postgres":
            parts.append(f"{name} ({ran} passed, in databases {_run['name']}*, dropped after)")
        elif ran:
            parts.append(f"{name} ({ran} passed)")
        elif not os.environ.get(variable):
            parts.append(f"{name} not tested ({variable} unset)")
        else:
            parts.append(f"{name} not tested (none of its tests ran)")
    terminalreporter.write_line("backends: SQLite, " + ", ".join(parts))
