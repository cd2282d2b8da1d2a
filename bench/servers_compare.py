"""Choose userauth's server by measurement: `python -m bench.servers_compare [--seconds N]`.

Serves the bare Flask route (`bench/bare.py`) and userauth (`bench/wsgi.py`) under each
contending server with the same workers, threads and wrk concurrency, all at once, and drives
them with wrk in alternating order (A B C D, then D C B A) so a shared machine's noise falls on
every side. Then, against each server's userauth, the three fault probes of `bench.faults`:
1,000 idle connections and 50 trickling bodies while `/healthz` is probed, malformed requests,
and SIGTERM with logins in flight. Prints one table; exit status 0 when it ran.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from bench import faults
from bench.config import bench_environment
from bench.load import Figures, run_wrk, script
from bench.seed import Seeded, ensure_postgres_database, seed
from bench.servers import ROOT, VENV_BIN, free_port

PASSWORD = "bench-password-1234"
USERS = 1_000
WORKERS = 2
THREADS = 4
# userauth serve's default: each request whose body is still arriving holds one thread.
GRANIAN_THREADS = 64
CONNECTIONS = 8
DRAIN_LOGINS = 6
SLOW_P99_LIMIT_MS = 100.0
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 45.0

# What a server is given to serve: the bare route, or userauth built by a factory per worker.
BARE = "bench.bare:app"
USERAUTH = "bench.wsgi:userauth_app"


def _gunicorn(worker_class: str, *extra: str) -> Callable[[str, int], list[str]]:
    def command(target: str, port: int) -> list[str]:
        factory = "()" if target == USERAUTH else ""
        return [
            str(VENV_BIN / "gunicorn"),
            f"--worker-class={worker_class}",
            f"--workers={WORKERS}",
            f"--bind=127.0.0.1:{port}",
            "--graceful-timeout=30",
            "--reuse-port",
            "--no-control-socket",
            "--error-logfile=-",
            *extra,
            target + factory,
        ]

    return command


def _granian(threads: int) -> Callable[[str, int], list[str]]:
    def command(target: str, port: int) -> list[str]:
        return _granian_command(target, port, threads)

    return command


def _granian_command(target: str, port: int, threads: int) -> list[str]:
    factory = ["--factory"] if target == USERAUTH else []
    return [
        str(VENV_BIN / "granian"),
        "--interface=wsgi",
        "--http=1",
        "--http1-buffer-size=8192",
        "--no-ws",
        f"--workers={WORKERS}",
        f"--blocking-threads={threads}",
        # As userauth/server.py: granian's default (512 connections per worker with two
        # workers, idle ones included) would lock /healthz out behind 1,000 idle clients.
        "--backlog=2048",
        "--backpressure=4096",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers-kill-timeout=30",
        *factory,
        target,
    ]


def _waitress(target: str, port: int) -> list[str]:
    # One process (waitress has no worker processes): as many threads as the others have in
    # all, and a connection limit above the idle clients (its default of 100 would refuse them).
    call = ["--call"] if target == USERAUTH else []
    return [
        str(VENV_BIN / "waitress-serve"),
        f"--listen=127.0.0.1:{port}",
        f"--threads={WORKERS * THREADS}",
        "--connection-limit=2000",
        *call,
        target,
    ]


@dataclass(frozen=True)
class Contender:
    """A server and how it is started on a target; `note` says what differs."""

    name: str
    command: Callable[[str, int], list[str]]
    note: str


CONTENDERS = [
    Contender(
        "gunicorn gthread",
        _gunicorn("gthread", f"--threads={THREADS}"),
        f"{WORKERS} workers x {THREADS} threads (userauth serve before issue 14)",
    ),
    Contender(
        "gunicorn gevent",
        _gunicorn("gevent", "--worker-connections=1000"),
        f"{WORKERS} workers, 1,000 greenlets each",
    ),
    Contender(
        f"granian wsgi, {THREADS} threads",
        _granian(THREADS),
        f"{WORKERS} workers x {THREADS} blocking threads",
    ),
    Contender(
        f"granian wsgi, {GRANIAN_THREADS} threads",
        _granian(GRANIAN_THREADS),
        f"{WORKERS} workers x {GRANIAN_THREADS} blocking threads (userauth serve now)",
    ),
    Contender(
        "waitress", _waitress, f"1 process x {WORKERS * THREADS} threads (no worker processes)"
    ),
]


@dataclass
class Running:
    """A server process we started (in a session of its own) and its log file."""

    label: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int | None:
        """SIGTERM, wait, then kill the whole group if it hangs; return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            return None

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])


def _wait_ready(running: Running) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.label} exited at start:\n{running.tail()}")
        try:
            with urllib.request.urlopen(running.url + "/", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    time.sleep(1.0)  # the other workers finish booting
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    running.stop()
    raise RuntimeError(f"{running.label} not ready in {READY_TIMEOUT_S:.0f} s:\n{running.tail()}")


def serve(
    contender: Contender, target: str, env: dict[str, str], workdir: Path, kind: str
) -> Running:
    port = free_port()
    label = f"{contender.name} {kind}"
    log = workdir / f"{label.replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            contender.command(target, port),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Running(label, process, port, log)
    _wait_ready(running)
    return running


@dataclass
class Row:
    """One contender's figures."""

    contender: Contender
    bare: list[Figures] = field(default_factory=list)
    userauth: list[Figures] = field(default_factory=list)
    slow: faults.SlowClientsResult | None = None
    malformed: list[faults.MalformedAnswer] = field(default_factory=list)
    drain: faults.DrainResult | None = None
    died: str = ""


def server_env(database_url: str) -> dict[str, str]:
    """The servers' environment: the benchmark's (bench_environment), with the secrets that
    every worker and process must share, as `userauth serve` arranges for its workers."""
    return bench_environment(
        database_url,
        12,
        USERAUTH_RATELIMIT_KEY_SECRET=uuid.uuid4().hex * 2,
        USERAUTH_SECRET_KEY=uuid.uuid4().hex * 2,
        PYTHONUNBUFFERED="1",
    )


def measure(rows: list[Row], seeded: Seeded, workdir: Path, config: argparse.Namespace) -> None:
    """Start every server, then alternate the wrk runs over them, round after round."""
    sessions = workdir / "sessions.txt"
    sessions.write_text("\n".join(seeded.profile_sessions) + "\n")
    env = server_env(config.database_url)
    bare = {row.contender.name: serve(row.contender, BARE, env, workdir, "bare") for row in rows}
    apps = {
        row.contender.name: serve(row.contender, USERAUTH, env, workdir, "userauth")
        for row in rows
    }
    try:
        for round_number in range(config.rounds):
            order = rows if round_number % 2 == 0 else rows[::-1]
            for row in order:
                name = row.contender.name
                _progress(f"round {round_number + 1}: {name}")
                row.bare.append(
                    run_wrk(
                        bare[name].url, script("get", workdir), config.seconds, CONNECTIONS, ["/"]
                    )
                )
                row.userauth.append(
                    run_wrk(
                        apps[name].url,
                        script("profile", workdir),
                        config.seconds,
                        CONNECTIONS,
                        [str(sessions)],
                    )
                )
        for server in bare.values():
            server.stop()
        for row in rows:
            _faults(row, apps[row.contender.name], seeded)
    finally:
        for server in [*bare.values(), *apps.values()]:
            server.stop()


def _faults(row: Row, server: Running, seeded: Seeded) -> None:
    name = row.contender.name
    _progress(f"faults: {name}")
    row.slow = faults.slow_clients("127.0.0.1", server.port)
    if server.process.poll() is not None:
        row.died = f"exited during the slow clients: {server.tail()}"
        return
    row.malformed = faults.malformed("127.0.0.1", server.port)
    logins = [
        faults.login_request("127.0.0.1", server.port, email, PASSWORD, f"10.14.0.{number}")
        for number, email in enumerate(seeded.login_emails[:DRAIN_LOGINS])
    ]
    row.drain = faults.drain(
        "127.0.0.1",
        server.port,
        logins,
        terminate=lambda: server.process.send_signal(signal.SIGTERM),
        wait_exit=server.stop,
    )


def _progress(message: str) -> None:
    print(f"[servers_compare] {message}", file=sys.stderr, flush=True)


def _mean(runs: Sequence[Figures]) -> Figures:
    return Figures.merge(runs)


def print_table(rows: list[Row], config: argparse.Namespace) -> None:
    """Print the comparison, each throughput also as a ratio of gunicorn gthread's."""
    base = rows[0]
    base_bare, base_app = _mean(base.bare).rps, _mean(base.userauth).rps
    print(
        f"wrk 1 thread, {CONNECTIONS} connections, {config.seconds} s per run, "
        f"{config.rounds} alternating rounds; {USERS:,} users on {config.backend}; "
        "slow clients: 1,000 idle + 50 trickling for 10 s, "
        f"/healthz p99 < {SLOW_P99_LIMIT_MS:.0f} ms"
    )
    print()
    print(
        "| server | bare rps | userauth /profile rps | ratio to gthread (bare, userauth) "
        "| bare p99 ms | /profile p99 ms | slow clients | malformed | SIGTERM drain | setup |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |")
    for row in rows:
        bare, app = _mean(row.bare), _mean(row.userauth)
        print(
            f"| {row.contender.name} | {bare.rps:,.0f} | {app.rps:,.0f} "
            f"| {bare.rps / base_bare:.2f}, {app.rps / base_app:.2f} "
            f"| {bare.p99_ms:.2f} | {app.p99_ms:.2f} | {_slow(row)} | {_malformed(row)} "
            f"| {_drain(row)} | {row.contender.note} |"
        )
    print()
    for row in rows:
        if row.died:
            print(f"{row.contender.name} {row.died}")
        print(f"{row.contender.name}, malformed requests:")
        for answer in row.malformed:
            print(f"  {'ok  ' if answer.acceptable else 'FAIL'} {answer.describe()}")
        errors = sum(f.errors for f in [*row.bare, *row.userauth])
        print(f"  wrk errors over every run: {errors}")


def _slow(row: Row) -> str:
    slow = row.slow
    assert slow is not None
    verdict = "PASS" if slow.passed(SLOW_P99_LIMIT_MS) else "FAIL"
    return (
        f"{verdict}: p99 {slow.p99_ms:,.0f} ms, {slow.failures}/{slow.probes} unanswered "
        f"({slow.idle_opened} idle open)"
    )


def _malformed(row: Row) -> str:
    if row.died:
        return "FAIL (server exited)"
    bad = [answer for answer in row.malformed if not answer.acceptable]
    if not bad:
        return f"PASS ({len(row.malformed)} cases)"
    return f"FAIL ({len(bad)}/{len(row.malformed)}: {bad[0].describe()})"


def _drain(row: Row) -> str:
    drain = row.drain
    if drain is None:
        return "FAIL (server exited)"
    verdict = "PASS" if drain.passed else "FAIL"
    return f"{verdict}: {drain.statuses}, exit {drain.exit_status}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.servers_compare", description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="wrk run length (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="serve from this PostgreSQL database (its userauth tables are emptied), not SQLite",
    )
    parser.add_argument("--only", action="append", help="measure only this contender (repeatable)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    rows = [Row(c) for c in CONTENDERS if not config.only or c.name in config.only]
    with tempfile.TemporaryDirectory(prefix="userauth-servers-") as folder:
        workdir = Path(folder)
        if config.postgres:
            ensure_postgres_database(config.postgres)
            config.database_url, config.backend = config.postgres, "PostgreSQL"
        else:
            config.database_url, config.backend = f"sqlite:///{workdir / 'bench.db'}", "SQLite"
        stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12))
        seeded = seed(config.database_url, USERS, stored, random.Random(14))
        measure(rows, seeded, workdir, config)
    print_table(rows, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
