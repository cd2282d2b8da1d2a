"""Metrics of a server with several workers: /metrics counts every worker's requests.

Issue 14 item 5. The server is a real `userauth serve --workers 2`. Each request goes on a
new connection, so that the kernel spreads them over both workers, and carries an id of the
test's own; the access-log line of that id names the worker (its pid) that answered, which
is how a test knows that both workers served some and that both answered a scrape.

Each granian worker binds its own SO_REUSEPORT socket once it has built its app, and the
server answers as soon as one does: until the other listens too, the kernel hands every
connection to the first. So the tests send until both have answered, within a deadline, rather
than a fixed number of requests and hoping both were listening.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, ServerProcess, redis_key_prefix
from tests.smtp import MailSink
from userauth.metrics_directory import prepare_multiprocess_metrics

SERVE = [sys.executable, "-m", "userauth", "serve", "--workers", "2"]
EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "amber-teapot-river-17"
TIMEOUT = 10
WORKERS = 2
# How long a worker may take to build its app and listen (or be replaced), on a busy machine.
LISTEN_DEADLINE_SECONDS = 60

pytestmark = pytest.mark.slow

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def send(server: ServerProcess, method: str, path: str, **kwargs: object) -> tuple[str, str]:
    """Send one request on a new connection; return its id and the body."""
    request_id = f"test-{uuid.uuid4().hex}"
    response = requests.request(
        method,
        server.url + path,
        headers={"X-Request-ID": request_id},
        timeout=TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )
    assert response.status_code < 500
    return request_id, response.text


def workers_of(server: ServerProcess, request_ids: list[str]) -> dict[str, int]:
    """Return the pid of the worker that answered each request, from its access-log line."""
    answered = {}
    for line in server.output_so_far().splitlines():
        if '"userauth.access"' in line:
            entry = json.loads(line)
            answered[entry["request_id"]] = entry["pid"]
    return {request_id: answered[request_id] for request_id in request_ids}


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def send_until_every_worker_answered(
    server: ServerProcess, method: str, path: str, *, at_least: int
) -> list[str]:
    """Send `at_least` requests, then more until each worker has answered one; return ids."""
    sent = [send(server, method, path)[0] for _ in range(at_least)]
    deadline = time.monotonic() + LISTEN_DEADLINE_SECONDS
    while len(set(workers_of(server, sent).values())) < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail(f"one worker answered every request for {LISTEN_DEADLINE_SECONDS} s")
        sent.append(send(server, method, path)[0])
    return sent


def scrapes_from_every_worker(server: ServerProcess) -> Iterator[Samples]:
    """Scrape /metrics on new connections until both workers have answered one; yield each."""
    scrapers: set[int] = set()
    deadline = time.monotonic() + LISTEN_DEADLINE_SECONDS
    while len(scrapers) < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail(f"one worker answered every scrape for {LISTEN_DEADLINE_SECONDS} s")
        request_id, text = send(server, "GET", "/metrics")
        yield samples(text)
        scrapers.add(workers_of(server, [request_id])[request_id])


def healthz_counts(found: Samples) -> tuple[float | None, float | None]:
    """Return the requests and latency observations counted for GET /healthz."""
    return (
        value(found, "userauth_http_requests_total", route="/healthz", method="GET", status="200"),
        value(
            found, "userauth_http_request_duration_seconds_count", route="/healthz", method="GET"
        ),
    )


@pytest.fixture
def down_sink() -> Iterator[MailSink]:
    """An SMTP sink that never listens: every send to it fails."""
    sink = MailSink()
    yield sink
    sink.close()


def wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"worker {pid} did not exit")


class TestEveryWorkerCounted:
    def test_every_scrape_counts_the_requests_of_both_workers(
        self, start_server: Callable[..., ServerProcess]
    ) -> None:
        server = start_server(SERVE)
        sent = send_until_every_worker_answered(server, "GET", "/healthz", at_least=40)
        send(server, "POST", "/users", data={"email": EMAIL, "password": PASSWORD})
        for password in (PASSWORD, WRONG_PASSWORD, PASSWORD, WRONG_PASSWORD, PASSWORD):
            send(server, "POST", "/sessions", data={"email": EMAIL, "password": password})

        for found in scrapes_from_every_worker(server):
            assert healthz_counts(found) == (len(sent), len(sent))
            logins = [
                value(found, "userauth_logins_total", outcome=o) for o in ("success", "failure")
            ]
            assert logins == [3, 2]
            requests_total = "userauth_http_requests_total"
            posted = [
                value(found, requests_total, route="/sessions", method="POST", status=status)
                for status in ("200", "401")
            ]
            assert posted == [3, 2]
            # Counted in the database: one value, not one per worker.
            assert value(found, "userauth_active_sessions") == 3

    def test_a_replaced_worker_keeps_its_counts(
        self, start_server: Callable[..., ServerProcess]
    ) -> None:
        server = start_server(SERVE)
        sent = send_until_every_worker_answered(server, "GET", "/healthz", at_least=40)
        replaced = workers_of(server, sent)[sent[0]]

        # SIGTERM: a graceful exit, as when a server replaces a worker; the exiting worker
        # runs its exit handlers, which must leave the shared directory alone.
        os.kill(replaced, signal.SIGTERM)
        wait_until_gone(replaced)
        later = [send(server, "GET", "/healthz")[0] for _ in range(20)]

        assert replaced not in workers_of(server, later).values()
        for found in scrapes_from_every_worker(server):
            assert healthz_counts(found) == (len(sent) + 20, len(sent) + 20)

    @pytest.mark.redis
    def test_failed_mail_sends_are_counted_whichever_worker_answers(
        self, start_server: Callable[..., ServerProcess], down_sink: MailSink
    ) -> None:
        with redis_key_prefix() as (redis_url, prefix):
            server = start_server(
                SERVE,
                **down_sink.production_env(),
                REDIS_URL=redis_url,
                USERAUTH_RATELIMIT_KEY_PREFIX=prefix,
                USERAUTH_RATELIMIT_KEY_SECRET="0123456789abcdef" * 4,
                USERAUTH_MAIL_RETRY_SECONDS="3600",  # one attempt per job within the test
            )
            send(server, "POST", "/users", data={"email": EMAIL, "password": PASSWORD})
            for _ in range(4):
                send(server, "POST", "/reset_password", data={"email": EMAIL})
            # Five jobs: the sign-up's (production queues one for a new account too, so that
            # /metrics moves alike for new and taken emails) and the four resets'.
            jobs = 5
            deadline = time.monotonic() + 30
            while server.output_so_far().count("failed on attempt 1") < jobs:
                assert time.monotonic() < deadline, "the outbox did not try every job"
                time.sleep(0.1)

            # Each job failed in the one worker that claimed it; both workers count all.
            for found in scrapes_from_every_worker(server):
                assert value(found, "userauth_mail_failures_total") == jobs
                assert value(found, "userauth_mail_pending") == jobs

    def test_no_secret_is_in_a_scrape(self, start_server: Callable[..., ServerProcess]) -> None:
        server = start_server(SERVE)
        send(server, "POST", "/users", data={"email": EMAIL, "password": PASSWORD})
        answer = requests.post(
            server.url + "/sessions", data={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        session_id = answer.cookies["session_id"]
        send(server, "GET", "/profile", cookies={"session_id": session_id})

        text = send(server, "GET", "/metrics")[1]
        assert "/profile" in text
        for secret in (EMAIL, PASSWORD, session_id):
            assert secret not in text


class TestMetricsDirectory:
    def test_private_while_the_server_runs_and_removed_when_it_stops(
        self, start_server: Callable[..., ServerProcess], tmp_path: Path
    ) -> None:
        temporary = tmp_path / "tmp"
        temporary.mkdir()
        server = start_server(SERVE, TMPDIR=str(temporary))
        send(server, "GET", "/healthz")

        (directory,) = temporary.glob("userauth-metrics-*")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert list(directory.iterdir())  # the workers' files
        server.stop()
        assert not directory.exists()

    def test_preparing_after_prometheus_client_is_imported_is_refused(self) -> None:
        # This test process imported it (through the app): forked workers would count alone.
        with pytest.raises(RuntimeError, match="before prometheus_client is imported"):
            prepare_multiprocess_metrics()

    @pytest.mark.parametrize("start_method", ["fork", "spawn"])
    def test_workers_forked_or_spawned_share_their_counts(
        self, tmp_path: Path, start_method: str
    ) -> None:
        # The database plays no part in what is counted: SQLite only.
        database_url = f"sqlite:///{tmp_path / 'workers.db'}"
        finished = subprocess.run(
            [sys.executable, "-m", "tests.metrics_workers", start_method, "7"],
            env={**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        assert float(finished.stdout.split()[-1]) == 14
