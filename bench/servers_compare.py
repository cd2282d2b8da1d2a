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
import random
import signal
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from bench import faults
from bench.config import bench_environment
from bench.contenders import BARE, CONTENDERS, USERAUTH, Contender, Running, serve
from bench.load import Figures, run_wrk, script
from bench.seed import Seeded, ensure_postgres_database, seed
from userauth import secret_box

PASSWORD = "bench-password-1234"
USERS = 1_000
CONNECTIONS = 8
DRAIN_LOGINS = 6
SLOW_P99_LIMIT_MS = 100.0


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
        USERAUTH_ENCRYPTION_KEYS=secret_box.new_key(),
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
