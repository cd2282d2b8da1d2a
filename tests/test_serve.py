"""`userauth serve`: the app under granian, started as a process and driven over HTTP.

Covers issue 5 item 1: it answers the contract, stops gracefully on SIGTERM without cutting
off a request, and takes its workers and threads from the settings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bench import faults
from tests.conftest import ServerProcess, free_port
from tests.smtp import MailSink
from tests.test_server_process import (
    EMAIL,
    PASSWD,
    register_user,
    run_contract_scenario,
)
from userauth import migrations
from userauth.server import forget_secret_variables
from userauth.settings import SECRET_VARIABLES

SERVE = [sys.executable, "-m", "userauth", "serve"]
# A bcrypt cost at which a login takes about half a second: long enough to be in flight.
SLOW_ROUNDS = "13"
CONCURRENT_LOGINS = 2
# Logins at the slow cost, sent whole before SIGTERM: more than the 2 cores finish at once.
DRAINED_LOGINS = 4
# The time to wait for the server to start every worker, after the first one answers.
WORKERS_BOOT_SECONDS = 10
# Stops sent to a server whose workers are starting, and how long each may take.
STOPS_WHILE_STARTING = 6
STOP_WHILE_STARTING_SECONDS = 15
# How much larger a worker of the first start may be than one of the next: two runs of one
# code differ by a megabyte or two; Alembic and its templates would add about 13 MB.
FIRST_START_EXTRA_KB = 5_000

pytestmark = pytest.mark.slow


# `userauth serve` as a process; ServerProcess exposes its master pid and exit status.
Serve = ServerProcess


StartServe = Callable[..., Serve]


@pytest.fixture
def start_serve(database_url: str) -> Iterator[StartServe]:
    """Start `userauth serve [options]` on the test database; keywords are environment."""
    started: list[Serve] = []

    def start(*options: str, **env: str) -> Serve:
        port = free_port()
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "USERAUTH_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        server = Serve([*SERVE, *options], environment, port)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()
        server.close()


def worker_pids(master: int) -> set[int]:
    """Return the pids of the main process's children: the server's workers."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children


def count_workers(server: Serve, expected: int) -> int:
    """Count the server's workers once `expected` have booted (or the wait is over)."""
    deadline = time.monotonic() + WORKERS_BOOT_SECONDS
    while len(workers := worker_pids(server.pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(workers)


def server_settings(output: str) -> dict[str, object]:
    """Return the settings `userauth serve` logs at DEBUG level as it hands them to the server."""
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "server settings":
            return entry
    raise AssertionError(f"userauth serve logged no server settings:\n{output}")


def post_login(url: str) -> requests.Response:
    return requests.post(f"{url}/sessions", data={"email": EMAIL, "password": PASSWD}, timeout=60)


class TestServe:
    def test_serve_passes_the_contract_scenario(self, start_serve: StartServe) -> None:
        run_contract_scenario(start_serve("--workers", "2").url)


class TestStopWhileStarting:
    # What is tested is granian's workers, not the database. Alone: six stops each within a
    # bound of time, whose workers start while the other xdist worker's tests load both cores
    # (the fresh-clone CI run saw a stop outlast its bound twice beside them).
    @pytest.mark.alone
    @pytest.mark.databases("sqlite")
    def test_a_sigterm_as_the_workers_start_stops_every_worker_without_a_kill(
        self, database_url: str, tmp_path: Path
    ) -> None:
        # The signal goes as soon as both workers exist, while they build the app; before
        # the fix about half of such stops hung until granian killed the workers, 30 s on.
        for attempt in range(STOPS_WHILE_STARTING):
            environment = {
                **os.environ,
                "DATABASE_URL": database_url,
                "USERAUTH_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1",
            }
            with (tmp_path / f"serve-{attempt}.log").open("w+b") as output:
                process = subprocess.Popen(
                    [*SERVE, "--workers", "2"],
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                try:
                    deadline = time.monotonic() + WORKERS_BOOT_SECONDS
                    while len(worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
                        time.sleep(0.01)
                    process.send_signal(signal.SIGTERM)
                    # Well under granian's kill timeout (server.GRACEFUL_TIMEOUT, 30 s).
                    status = process.wait(timeout=STOP_WHILE_STARTING_SECONDS)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    status = None
                output.seek(0)
                printed = output.read().decode(errors="replace")
            assert status == 0, printed
            assert "refused to gracefully stop" not in printed, printed

    # Each case sends SIGTERM from inside the worker at one moment of its start, with
    # Python's own hooks: as many runs as it takes would not hit such a moment reliably.
    @pytest.mark.databases("sqlite")
    def test_a_sigterm_right_after_the_fork_ends_the_worker_before_it_serves(
        self, database_url: str, tmp_path: Path
    ) -> None:
        # Before any at-fork hook of userauth's runs in the child (hooks run in the order
        # they were registered, and this one is registered first).
        printed = run_serve_with_a_worker_hook(
            database_url,
            tmp_path,
            "os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))",
        )
        assert_every_worker_stopped_while_starting(printed)

    @pytest.mark.databases("sqlite")
    def test_a_sigterm_right_after_the_app_is_built_ends_the_worker_before_it_serves(
        self, database_url: str, tmp_path: Path
    ) -> None:
        # When load_app returns, before granian puts its own handler in place.
        printed = run_serve_with_a_worker_hook(
            database_url,
            tmp_path,
            """
def signal_when_the_app_is_built(frame, event, _arg):
    if event == "return" and frame.f_code.co_name == "load_app":
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)

os.register_at_fork(after_in_child=lambda: sys.setprofile(signal_when_the_app_is_built))
""",
        )
        assert_every_worker_stopped_while_starting(printed)


def run_serve_with_a_worker_hook(database_url: str, tmp_path: Path, hook: str) -> str:
    """Run `userauth serve` (one worker) after `hook`, until it exits; return what it printed.

    Every worker the hook signals ends, so granian's main process exits by itself on the
    second one (it calls that a crash loop). A worker that lost the signal serves on: the
    server is then killed once the worker says it started, or after
    STOP_WHILE_STARTING_SECONDS.
    """
    # The schema first: serve would otherwise fork a child to create it, which the hook
    # would signal too.
    migrations.ensure_current(database_url, auto_migrate=True)
    serve = "from userauth.cli import main\nmain(['serve', '--workers', '1'], prog_name='ua')"
    script = f"import os, signal, sys\n{hook}\n{serve}\n"
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "USERAUTH_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", script],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + STOP_WHILE_STARTING_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if "Started worker" in log.read_text(errors="replace"):
                break
            time.sleep(0.05)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return log.read_text(errors="replace")


def assert_every_worker_stopped_while_starting(printed: str) -> None:
    """Assert that each worker the server spawned ended before it served."""
    events = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    # granian's line: "Spawning worker-1 with PID: 1234".
    spawned = [int(e["event"].rsplit(" ", 1)[1]) for e in events if "with PID" in e["event"]]
    stopped = {e["pid"] for e in events if e["event"] == "worker stopped while starting"}
    assert "Started worker" not in printed, printed
    assert stopped, printed
    # The server may have been killed while its last respawned worker was starting.
    assert stopped <= set(spawned), printed
    assert set(spawned) - stopped <= {spawned[-1]}, printed


class TestGracefulStop:
    def test_logins_in_flight_at_sigterm_complete_and_the_server_exits_0(
        self, start_serve: StartServe
    ) -> None:
        server = start_serve("--workers", "1", USERAUTH_BCRYPT_ROUNDS=SLOW_ROUNDS)
        started = time.monotonic()
        register_user(server.url, EMAIL, PASSWD)
        # A login costs about what the registration did: send SIGTERM well before the end.
        head_start = (time.monotonic() - started) / 4
        with ThreadPoolExecutor(CONCURRENT_LOGINS) as pool:
            logins = [pool.submit(post_login, server.url) for _ in range(CONCURRENT_LOGINS)]
            time.sleep(head_start)
            assert not any(login.done() for login in logins), "the logins ended before SIGTERM"
            output = server.stop()
            statuses = [login.result().status_code for login in logins]
        assert statuses == [200] * CONCURRENT_LOGINS, output
        assert server.exit_status == 0, output

    def test_requests_sent_whole_before_sigterm_all_get_their_full_answer(
        self, start_serve: StartServe
    ) -> None:
        server = start_serve("--workers", "2", USERAUTH_BCRYPT_ROUNDS=SLOW_ROUNDS)
        register_user(server.url, EMAIL, PASSWD)
        logins = [
            faults.login_request("127.0.0.1", server.port, EMAIL, PASSWD)
            for _ in range(DRAINED_LOGINS)
        ]

        def wait_exit() -> int | None:
            server.stop()
            return server.exit_status

        result = faults.drain(
            "127.0.0.1",
            server.port,
            logins,
            terminate=lambda: os.kill(server.pid, signal.SIGTERM),
            wait_exit=wait_exit,
        )
        assert result.answered_before_signal == 0, "the logins ended before SIGTERM"
        assert result.statuses == [200] * DRAINED_LOGINS  # none reset, none cut short
        assert result.exit_status == 0

    def test_new_connections_are_refused_after_the_stop(self, start_serve: StartServe) -> None:
        server = start_serve("--workers", "1")
        server.stop()
        assert server.exit_status == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.url}/", timeout=5)


class TestPort:
    def test_a_second_server_on_a_port_in_use_is_refused_in_one_line(
        self, start_serve: StartServe, database_url: str
    ) -> None:
        first = start_serve("--workers", "2")
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "USERAUTH_PORT": str(first.port),
        }
        second = subprocess.run(
            SERVE, env=environment, capture_output=True, text=True, timeout=60, check=False
        )
        assert second.returncode == 1
        assert second.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{first.port}: ")
        assert requests.get(f"{first.url}/", timeout=5).status_code == 200


class TestStartUpLines:
    def test_serve_says_where_it_listens_and_which_database_it_uses(
        self, start_serve: StartServe, database_url: str
    ) -> None:
        server = start_serve("--workers", "1", "--threads", "2")
        output = server.stop()
        [line] = [json.loads(x) for x in output.splitlines() if "userauth serving" in x]
        shown = database_url.split("@")[-1]
        assert line["event"].startswith(
            f"userauth serving on http://127.0.0.1:{server.port} (development's default host: "
            "this machine only; workers 1, threads 2), database "
        )
        assert line["event"].endswith(shown)

    def test_an_unreachable_database_stops_start_up_in_one_line_hiding_the_password(
        self,
    ) -> None:
        environment = {
            **os.environ,
            "DATABASE_URL": f"postgresql+psycopg://nobody:s3cret@127.0.0.1:{free_port()}/none",
        }
        finished = subprocess.run(
            SERVE, env=environment, capture_output=True, text=True, timeout=60, check=False
        )
        assert finished.returncode == 1
        assert finished.stderr.startswith("Error: cannot reach the database postgresql+psycopg")
        assert finished.stderr.count("\n") == 1
        assert "s3cret" not in finished.stderr


def answers_at(address: str, port: int) -> bool:
    """Tell whether something accepts a connection at address:port."""
    try:
        socket.create_connection((address, port), timeout=5).close()
    except OSError:
        return False
    return True


class TestHost:
    # Linux routes all of 127.0.0.0/8 to this machine, but a socket bound to 127.0.0.1
    # accepts connections to that one address only: 127.0.0.2 stands for any other
    # address of this machine, as another host would reach it.
    OTHER_ADDRESS = "127.0.0.2"

    def test_development_listens_on_this_machine_only_unless_told_otherwise(
        self, start_serve: StartServe
    ) -> None:
        server = start_serve("--workers", "1", USERAUTH_HOST="")
        assert answers_at("127.0.0.1", server.port)
        assert not answers_at(self.OTHER_ADDRESS, server.port)
        [line] = [x for x in server.stop().splitlines() if "userauth serving" in x]
        assert "http://127.0.0.1:" in line
        assert "development's default host: this machine only" in line

    @pytest.mark.parametrize(
        ("options", "env"),
        # Every address of this machine: what 127.0.0.2 reaches.
        [(("--host", "0.0.0.0"), {}), ((), {"USERAUTH_HOST": "0.0.0.0"})],  # noqa: S104
        ids=["option", "variable"],
    )
    def test_an_address_set_is_bound_and_the_start_up_line_says_so(
        self, start_serve: StartServe, options: tuple[str, ...], env: dict[str, str]
    ) -> None:
        server = start_serve("--workers", "1", *options, **env)
        assert answers_at(self.OTHER_ADDRESS, server.port)
        [line] = [x for x in server.stop().splitlines() if "userauth serving" in x]
        assert "http://0.0.0.0:" in line
        assert "host as set: every address of this machine" in line

    @pytest.fixture
    def production_env(self) -> Iterator[dict[str, str]]:
        """The environment of a production server that passes every other start-up check."""
        sink = MailSink()
        yield sink.production_env()
        sink.close()

    def test_production_without_an_address_refuses_to_start_naming_the_setting(
        self, database_url: str, tmp_path: Path, production_env: dict[str, str]
    ) -> None:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("USERAUTH_")},
            **production_env,
            "DATABASE_URL": database_url,
            "USERAUTH_HOST": "",
            "USERAUTH_PORT": str(free_port()),
            "USERAUTH_WORKERS": "1",
        }
        # A group of its own: a server that wrongly starts is stopped whole, workers included.
        process = subprocess.Popen(
            SERVE,
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
        assert process.returncode == 2
        assert stderr.splitlines() == [
            "userauth cannot start:",
            "USERAUTH_HOST (or --host) must be set in production: 127.0.0.1 behind a proxy "
            "on this machine, 0.0.0.0 to be reached from other hosts.",
        ]

    def test_production_with_an_address_starts(
        self, start_serve: StartServe, production_env: dict[str, str]
    ) -> None:
        server = start_serve("--workers", "1", **production_env)
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


class TestWorkersAndThreads:
    def test_workers_and_threads_come_from_the_settings(self, start_serve: StartServe) -> None:
        server = start_serve(
            USERAUTH_WORKERS="2", USERAUTH_THREADS="3", USERAUTH_LOG_LEVEL="DEBUG"
        )
        assert count_workers(server, 2) == 2
        configuration = server_settings(server.stop())
        assert (configuration["workers"], configuration["threads"]) == (2, 3)

    def test_options_take_precedence_over_the_settings(self, start_serve: StartServe) -> None:
        server = start_serve(
            "--workers",
            "1",
            "--threads",
            "2",
            USERAUTH_WORKERS="2",
            USERAUTH_THREADS="3",
            USERAUTH_LOG_LEVEL="DEBUG",
        )
        assert count_workers(server, 1) == 1
        configuration = server_settings(server.stop())
        assert (configuration["workers"], configuration["threads"]) == (1, 2)

    def test_the_default_is_one_worker_per_core_with_sixty_four_threads(
        self, start_serve: StartServe
    ) -> None:
        cores = min(len(os.sched_getaffinity(0)), 64)
        server = start_serve(USERAUTH_LOG_LEVEL="DEBUG")
        assert count_workers(server, cores) == cores
        assert server_settings(server.stop())["threads"] == 64

    def test_granians_warning_about_many_threads_is_not_printed_at_every_start(
        self, start_serve: StartServe
    ) -> None:
        # 64 threads is a choice (docs/operations.md, Serving); granian questions it at each start.
        output = start_serve(USERAUTH_THREADS="64").stop()
        assert "seems quite high" not in output
        assert "userauth serving on" in output


class TestFirstStart:
    def test_workers_of_the_start_that_creates_the_schema_are_no_larger_than_later_ones(
        self, start_serve: StartServe
    ) -> None:
        # Creating the schema takes Alembic, Mako and Pygments, about 13 MB of Python objects:
        # the master must not hold them when it forks the workers. Both starts run one after
        # the other on the same machine, so whatever else a worker maps is the same in both.
        first = start_serve("--workers", "1")
        first_kb = worker_rss_kb(first)
        first.stop()
        later = start_serve("--workers", "1")
        later_kb = worker_rss_kb(later)
        assert first_kb - later_kb < FIRST_START_EXTRA_KB, (first_kb, later_kb)


def worker_rss_kb(server: Serve) -> int:
    """Return the resident size (VmRSS, kB) of the server's one worker, once it answered."""
    (worker,) = worker_pids(server.pid)
    for line in Path(f"/proc/{worker}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for worker {worker}")


class TestRequestLog:
    def test_each_request_gets_one_whole_json_line_though_threads_write_at_once(
        self, start_serve: StartServe
    ) -> None:
        server = start_serve("--workers", "2", "--threads", "4")
        request_ids = [f"serve-log-{number}" for number in range(200)]

        def get(request_id: str) -> int:
            headers = {"X-Request-ID": request_id}
            return requests.get(f"{server.url}/", headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(get, request_ids)) == {200}
        output = server.stop()
        logged = [
            entry["request_id"]
            for entry in map(json.loads, output.splitlines())  # every line is whole JSON
            if entry.get("logger") == "userauth.access"
            and entry["request_id"].startswith("serve-log-")  # not the readiness probes
        ]
        assert sorted(logged) == sorted(request_ids)


class TestSecretsInTheEnvironment:
    def test_the_server_forgets_every_variable_that_holds_a_secret(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # granian copies a worker's environment into every request's WSGI environ.
        for name in SECRET_VARIABLES:
            monkeypatch.setenv(name, f"secret-of-{name}")
        monkeypatch.setenv("USERAUTH_PORT", "5000")

        forget_secret_variables()

        assert [name for name in SECRET_VARIABLES if name in os.environ] == []
        assert os.environ["USERAUTH_PORT"] == "5000"
