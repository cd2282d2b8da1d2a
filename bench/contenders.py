"""The servers bench.servers_compare compares: how each starts, on a target, and a running one.

Each contender serves a WSGI target (the bare Flask route, or userauth built per worker by
a factory) with the same workers and threads; `serve` starts one in a session of its own and
waits until it answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.servers import ROOT, VENV_BIN, free_port

WORKERS = 2
THREADS = 4
# userauth serve's default: each request whose body is still arriving holds one thread.
GRANIAN_THREADS = 64
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
