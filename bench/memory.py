"""Measure the memory of `userauth serve`'s workers under load: peak RSS and PSS per worker.

`python -m bench.memory [--postgres URL] [--users N] [--seconds S] [--env NAME=VALUE ...]`
seeds a database (SQLite in a temporary directory, and PostgreSQL when a URL is given or
BENCH_POSTGRES_URL is set), starts `userauth serve --workers 2` on it (with serve's default
threads per worker), drives every scenario of the benchmark through wrk (GET /, GET /profile,
POST /sessions and POST /users at the configured bcrypt cost, the reset pair), then reads
each process's memory from /proc:

- peak RSS: VmHWM, the most resident memory the worker ever had, pages it shares with the
  master and the other workers included (what bench/run's target limits);
- RSS, PSS and USS after the load, from /proc/<pid>/smaps_rollup: PSS charges each shared
  page to its sharers in equal parts, USS counts only the worker's private pages. The kernel
  keeps no peak of PSS, so PSS is the figure after the load.

It prints one row per process (the master and each worker; "RSS ready" is the worker's RSS
once the server answered its first request, before the load) and, per backend, the target
`peak RSS per worker <= 80 MB` with PASS or FAIL; exit status 0 only when every backend
passes. `--env MALLOC_ARENA_MAX=2` (say) measures a knob without changing any code.

`--factors` then drives the two logins that check no bcrypt, as bench/run does (issues 24
and 25): `POST /sessions/second-factor` with a right TOTP code, then a passkey login (options
and answer), each on a pool made just before through the domain API, and reads the workers'
peak RSS after each: "peak after" columns per scenario, the target judged on the last.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from bench import pools
from bench.config import bench_environment
from bench.load import WRK_THREADS, run_wrk, script
from bench.seed import Seeded, ensure_postgres_database, seed
from bench.servers import Server, ServerError, ServerLayout, start_userauth
from userauth.settings import Settings

PASSWORD = "bench-password-1234"
PEAK_RSS_LIMIT_MB = 80.0
MB = 1024 * 1024
# Pending logins and passkey answers made for --factors: enough for a peak, quick to make.
FACTOR_POOL = 1_000


@dataclass(frozen=True)
class Memory:
    """One process's memory, in bytes: peak RSS (VmHWM), and RSS, PSS, USS now."""

    pid: int
    peak_rss: int
    rss: int
    pss: int
    uss: int


def read_memory(pid: int) -> Memory:
    """Read a live process's memory from /proc/<pid>/status and /proc/<pid>/smaps_rollup.

    Raises:
        ServerError: the process is gone, or the kernel has no smaps_rollup (before 4.14).
    """
    try:
        status = _fields(Path(f"/proc/{pid}/status").read_text())
        rollup = _fields(Path(f"/proc/{pid}/smaps_rollup").read_text())
    except OSError as error:
        raise ServerError(f"cannot read the memory of pid {pid}: {error}") from None
    return Memory(
        pid=pid,
        peak_rss=status["VmHWM"],
        rss=rollup["Rss"],
        pss=rollup["Pss"],
        uss=rollup["Private_Clean"] + rollup["Private_Dirty"],
    )


def _fields(text: str) -> dict[str, int]:
    """Return the `Name: <n> kB` lines of a /proc file as bytes by name."""
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[name] = int(parts[0]) * 1024
    return fields


@dataclass(frozen=True)
class Config:
    users: int
    seconds: int
    layout: ServerLayout
    connections: int
    bcrypt_rounds: int
    postgres_url: str | None
    sqlite: bool
    env: dict[str, str]
    factors: bool = False


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=int, default=100_000, help="accounts and sessions")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=Settings().server.threads)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="PostgreSQL URL whose userauth tables may be emptied (default $BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server, e.g. MALLOC_ARENA_MAX=2 (repeatable)",
    )
    parser.add_argument(
        "--factors",
        action="store_true",
        help="then the second factor's step and a passkey login, with the peak after each",
    )
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    return Config(
        users=args.users,
        seconds=args.seconds,
        layout=ServerLayout(workers=args.workers, threads=args.threads),
        connections=args.connections,
        bcrypt_rounds=args.bcrypt_rounds,
        postgres_url=args.postgres,
        sqlite=not args.no_sqlite,
        env=env,
        factors=args.factors,
    )


def server_env(database_url: str, config: Config) -> dict[str, str]:
    """The server's environment: the benchmark's (bench_environment), plus any --env."""
    return bench_environment(database_url, config.bcrypt_rounds, **config.env)


def _data(workdir: Path, name: str, lines: list[str]) -> str:
    path = workdir / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def load(server: Server, seeded: Seeded, config: Config, workdir: Path) -> None:
    """Drive every scenario of the benchmark once, so each worker reaches its peak."""

    def data(name: str, lines: list[str]) -> str:
        return _data(workdir, name, lines)

    # (scenario, its arguments, whether it runs bcrypt: twice as long, to overlap enough)
    plan = [
        ("get", ["/"], False),
        ("profile", [data("profile", seeded.profile_sessions)], False),
        ("login", [data("logins", seeded.login_emails), PASSWORD], True),
        ("register", [uuid.uuid4().hex[:12], PASSWORD], True),
        ("reset", [data("resets", seeded.reset_emails), PASSWORD], True),
    ]
    for scenario, args, slow in plan:
        seconds = config.seconds * (2 if slow else 1)
        figures = run_wrk(server.url, script(scenario, workdir), seconds, config.connections, args)
        done = f"{figures.requests} requests, {figures.errors} errors"
        progress(f"{server.name}: {scenario}: {done}")


def load_factors(server: Server, url: str, config: Config, workdir: Path) -> dict[str, float]:
    """Drive the second factor's step, then a passkey login; return the peak after each.

    The pools are made as bench/run makes them (bench/second_factor.py,
    bench/passkey_login.py), in a child process (bench/pools.py), just before each run. The
    peaks are the largest VmHWM of the workers, in MB.
    """
    env = server_env(url, config)
    peaks = {}
    tag = uuid.uuid4().hex[:8]
    pending = pools.second_factor_logins(env, FACTOR_POOL, PASSWORD, f"totp-{tag}-")
    lines = _data(workdir, "pending", pending)
    figures = run_wrk(server.url, script("second_factor", workdir), config.seconds, 8, [lines])
    progress(f"{server.name}: second factor: {figures.count_rate('completed'):.0f} completed/s")
    peaks["second factor"] = _peak_mb(server)
    answers = pools.passkey_answers(env, server.url, FACTOR_POOL, PASSWORD, f"passkey-{tag}-")
    lines = _data(workdir, "passkeys", answers)
    figures = run_wrk(
        server.url, script("passkey_login", workdir), config.seconds, 8, [lines, str(WRK_THREADS)]
    )
    progress(f"{server.name}: passkey login: {figures.count_rate('completed'):.0f} completed/s")
    peaks["passkey login"] = _peak_mb(server)
    return peaks


def _peak_mb(server: Server) -> float:
    return max(read_memory(pid).peak_rss for pid in server.workers) / MB


@dataclass(frozen=True)
class Measured:
    """One backend's server after the load: its master and its workers, with their RSS when
    the server was ready."""

    backend: str
    master: Memory
    workers: list[Memory]
    ready_rss: dict[int, int]
    # The workers' largest peak RSS in MB after each phase: the benchmark's scenarios, then
    # with --factors the second factor's step and the passkey login.
    phases: dict[str, float]

    @property
    def peak_rss_mb(self) -> float:
        return max(worker.peak_rss for worker in self.workers) / MB

    def rows(self) -> list[str]:
        rows = [_row(self.backend, "master", self.master, self.master.rss)]
        for number, worker in enumerate(self.workers, 1):
            ready = self.ready_rss[worker.pid]
            rows.append(_row(self.backend, f"worker {number}", worker, ready))
        return rows


def measure(name: str, url: str, config: Config, stored: bytes, workdir: Path) -> Measured:
    """Seed, serve, load and read one backend.

    Raises:
        ServerError: the server did not start, or a worker was replaced during the load.
    """
    seeded = seed(url, config.users, stored, random.Random())
    with ExitStack() as stack:
        server = start_userauth(name, config.layout, server_env(url, config), workdir)
        stack.callback(server.stop)
        ready = {pid: read_memory(pid).rss for pid in server.workers}
        load(server, seeded, config, workdir)
        phases = {"scenarios": _peak_mb(server)}
        if config.factors:
            phases.update(load_factors(server, url, config, workdir))
        if server.worker_pids() != server.workers:
            raise ServerError(f"{name}: a worker was replaced during the load")
        master = read_memory(server.process.pid)
        workers = [read_memory(pid) for pid in sorted(server.workers)]
    return Measured(name, master, workers, ready, phases)


def _row(backend: str, process: str, memory: Memory, ready: int) -> str:
    figures = (ready, memory.peak_rss, memory.rss, memory.pss, memory.uss)
    return f"| {backend} | {process} | " + " | ".join(f"{v / MB:.1f}" for v in figures) + " |"


def progress(message: str) -> None:
    print(f"[memory] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="userauth-memory-"))
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(config.bcrypt_rounds))
    backends = []
    if config.sqlite:
        backends.append(("SQLite", f"sqlite:///{workdir}/memory.db"))
    if config.postgres_url:
        ensure_postgres_database(config.postgres_url)
        backends.append(("PostgreSQL", config.postgres_url))
    results = [measure(name, url, config, stored, workdir) for name, url in backends]
    shutil.rmtree(workdir)  # on an error, the work directory stays for the server's log
    extra = " ".join(f"{name}={value}" for name, value in config.env.items()) or "none"
    lines = [
        f"userauth serve, {config.layout.workers} workers x {config.layout.threads} threads, "
        f"bcrypt cost {config.bcrypt_rounds}, {config.users:,} users; wrk {config.connections} "
        f"connections, {config.seconds} s per scenario (bcrypt ones twice); extra "
        f"environment: {extra}",
        "",
        "| backend | process | RSS ready MB | peak RSS MB | RSS MB | PSS MB | USS MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        *(row for result in results for row in result.rows()),
        "",
    ]
    if config.factors:
        lines += [
            "| backend | peak RSS MB after the scenarios | after the second factor "
            "| after a passkey login |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {result.backend} | "
                + " | ".join(f"{peak:.1f}" for peak in result.phases.values())
                + " |"
                for result in results
            ),
            "",
        ]
    for result in results:
        verdict = "PASS" if result.peak_rss_mb <= PEAK_RSS_LIMIT_MB else "FAIL"
        lines.append(
            f"{result.backend}: peak RSS per worker {result.peak_rss_mb:.1f} MB "
            f"(limit {PEAK_RSS_LIMIT_MB:.0f} MB) {verdict}"
        )
    print("\n".join(lines))
    return 0 if all(result.peak_rss_mb <= PEAK_RSS_LIMIT_MB for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
