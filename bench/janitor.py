"""Measure the janitor: the hot routes beside millions of expired sessions, and a churn run.

`bench/run janitor --postgres URL [--expired N] [--seconds S] [--rounds R] [--prune]
[--churn-minutes M] [--sqlite]` (or `python -m bench.janitor ...`):

1. Two databases of 1,000 accounts with a live session each (bench/seed.py): `<name>` fresh,
   and `<name>_expired`, which also holds N expired sessions (default 5 million) written by
   INSERT ... SELECT generate_series. Two servers on each, janitor off (the rows stay while
   measured): session cache on (the default) and off (every check reads the sessions
   table). wrk drives the gate (GET /auth/verify) and GET /profile on each in alternating
   order (A B C ..., then ... C B A). A rerun keeps the expired sessions `<name>_expired`
   already holds (without `--prune`, they stay) and gives its accounts new live sessions.
   Reported: each route's rate beside the expired rows
   as a ratio to its rate on the fresh database (the target: at least 0.9).
2. `--prune`: one `userauth db prune` pass over the expired rows, timed.
3. `--churn-minutes M` (default 4; 0: none): a server with sessions and reset tokens that
   last a minute and a janitor every 10 s, driven by clients that sign up, ask for a reset
   token, log in, use the session and leave it to expire; the sessions' and tokens' row
   counts, sampled every 20 s, must stay flat after the first 90 s.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import bcrypt
import requests
from sqlalchemy import create_engine, delete, func, insert, inspect, select, text
from sqlalchemy.engine import make_url

from bench.bench import PASSWORD, SMALL_USERS, progress
from bench.config import WRK_CONNECTIONS, bench_environment
from bench.load import Figures, run_wrk, script
from bench.seed import (
    PROFILE_ACCOUNTS,
    SESSION_LIFETIME,
    Seeded,
    ensure_postgres_database,
    seed,
)
from bench.servers import Server, ServerLayout, start_userauth
from userauth import tokens
from userauth.clock import utcnow
from userauth.models import sessions_table

EXPIRED_SESSIONS = 5_000_000
TARGET_RATIO = 0.9
# Rows per INSERT when writing the expired sessions: a few seconds each, a bounded journal.
INSERT_CHUNK = 1_000_000
CHURN_TABLES = ("users", "sessions", "one_time_secrets", "mail_jobs", "audit_events")
CHURN_SAMPLE_SECONDS = 20
# Each churn client logs in, uses its session this many times, and starts again.
USES_PER_LOGIN = 5

_POSTGRES_EXPIRED = """
INSERT INTO sessions (user_id, id_digest, public_id, created_at, last_used_at, expires_at,
                      user_agent, client_address)
SELECT 1 + n % :users, 'expired-' || n, 'x' || n, now() - interval '10 days',
       now() - interval '10 days', now() - interval '9 days', '', ''
FROM generate_series(:first, :last) AS n
"""
_SQLITE_EXPIRED = """
WITH RECURSIVE numbers(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM numbers WHERE n < :last)
INSERT INTO sessions (user_id, id_digest, public_id, created_at, last_used_at, expires_at,
                      user_agent, client_address)
SELECT 1 + n % :users, 'expired-' || n, 'x' || n, datetime('now', '-10 days'),
       datetime('now', '-10 days'), datetime('now', '-9 days'), '', ''
FROM numbers
"""


def add_expired_sessions(url: str, count: int, users: int) -> float:
    """Write `count` sessions that expired days ago, spread over the accounts; return seconds."""
    started = time.monotonic()
    postgres = make_url(url).get_backend_name() == "postgresql"
    statement = text(_POSTGRES_EXPIRED if postgres else _SQLITE_EXPIRED)
    engine = create_engine(url)
    try:
        for first in range(1, count + 1, INSERT_CHUNK):
            last = min(first + INSERT_CHUNK - 1, count)
            with engine.begin() as connection:
                connection.execute(statement, {"first": first, "last": last, "users": users})
        # Statistics and a clean visibility map now, not from autovacuum mid-measurement.
        maintenance = "VACUUM (ANALYZE) sessions" if postgres else "ANALYZE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(maintenance))
    finally:
        engine.dispose()
    return time.monotonic() - started


def count_expired(url: str) -> int:
    """Count the sessions of `url` that expired a day ago or more (0 without the table)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if "sessions" not in inspect(connection).get_table_names():
                return 0
            statement = select(func.count()).where(
                sessions_table.c.expires_at < utcnow() - timedelta(days=1)
            )
            return int(connection.execute(statement).scalar_one())
    finally:
        engine.dispose()


def add_live_sessions(url: str) -> list[str]:
    """Give the first PROFILE_ACCOUNTS accounts a new live session each; return their ids.

    What a rerun needs of a database whose expired sessions it keeps (writing 5 million
    takes minutes): seed() would empty it.
    """
    clear = [str(uuid.uuid4()) for _ in range(PROFILE_ACCOUNTS)]
    now = utcnow()
    rows = [
        {"user_id": number, "id_digest": tokens.digest(session_id),
         "public_id": tokens.new_public_id(), "created_at": now, "last_used_at": now,
         "expires_at": now + SESSION_LIFETIME, "user_agent": "", "client_address": ""}
        for number, session_id in enumerate(clear, start=1)
    ]  # fmt: skip
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(delete(sessions_table).where(sessions_table.c.expires_at > now))
            connection.execute(insert(sessions_table), rows)
    finally:
        engine.dispose()
    return clear


def expired_name(url: str) -> str:
    return str(make_url(url).database)


def count_rows(url: str) -> dict[str, int]:
    """Return the row count of each table the janitor prunes."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - our own table names
                for table in CHURN_TABLES
            }
    finally:
        engine.dispose()


ROUTES = ("/auth/verify", "/profile")
# The session cache on (the default: a check reads no database) and off (every check is an
# indexed read of the sessions table, the one the expired rows are in).
CACHE_MODES = ("on", "off")
Plan = list[tuple[str, Server, list[str]]]


def compare(
    args: argparse.Namespace, fresh: str, expired: str, workdir: Path
) -> dict[str, Figures]:
    """Serve both databases (janitor off) and return each (route, cache, database)'s figures."""
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(args.bcrypt_rounds))
    seeded = [seed(fresh, SMALL_USERS, stored, random.Random(23))]
    if count_expired(expired) >= args.expired:
        progress(f"{expired_name(expired)} holds {args.expired:,} expired sessions: kept")
        seeded.append(replace(seeded[0], profile_sessions=add_live_sessions(expired)))
    else:
        seeded.append(seed(expired, SMALL_USERS, stored, random.Random(23)))
        progress(f"writing {args.expired:,} expired sessions")
        seconds = add_expired_sessions(expired, args.expired, SMALL_USERS)
        progress(f"wrote them in {seconds:.0f} s")
    runs: dict[str, list[Figures]] = {}
    lua = script("profile", workdir)
    with ExitStack() as stack:
        plan = _serve_both(args, (fresh, expired), seeded, workdir, stack)
        for _, server, wrk_args in plan:  # warm-up: imports, pools, the session cache
            run_wrk(server.url, lua, 2, WRK_CONNECTIONS, wrk_args)
        for round_number in range(args.rounds):
            for name, server, wrk_args in plan if round_number % 2 == 0 else plan[::-1]:
                figures = run_wrk(server.url, lua, args.seconds, WRK_CONNECTIONS, wrk_args)
                runs.setdefault(name, []).append(figures)
                progress(f"{name}: {figures.rps:,.0f} requests/s")
    return {name: Figures.merge(figures) for name, figures in runs.items()}


def _serve_both(
    args: argparse.Namespace,
    urls: tuple[str, str],
    seeded: list[Seeded],
    workdir: Path,
    stack: ExitStack,
) -> Plan:
    """Start a server per database and cache mode; return the wrk runs, named."""
    layout = ServerLayout(workers=args.workers, threads=args.threads)
    plan: Plan = []
    for label, url, data in zip(("fresh", "expired"), urls, seeded, strict=True):
        ids = workdir / f"{label}-ids.txt"
        ids.write_text("\n".join(data.profile_sessions) + "\n")
        for cache in CACHE_MODES:
            env = bench_environment(
                url,
                args.bcrypt_rounds,
                USERAUTH_JANITOR_INTERVAL_SECONDS="0",
                USERAUTH_SESSION_CACHE=cache,
            )
            server = start_userauth(f"{label}-cache-{cache}", layout, env, workdir)
            stack.callback(server.stop)
            for route in ROUTES:
                plan.append((f"{route} cache {cache} {label}", server, [str(ids), route]))
    return plan


def report(backend: str, figures: dict[str, Figures], expired: int) -> bool:
    """Print each route's rate beside the expired rows against the fresh database's."""
    print(f"\n{backend}: {SMALL_USERS:,} accounts; 'expired' also holds {expired:,} expired ones")
    header = f"{'route':<14} {'cache':>5} {'fresh rps':>10} {'expired rps':>12} {'ratio':>6}"
    print(f"{header} {'p99 ms':>13} target")
    passed = True
    for route in ROUTES:
        for cache in CACHE_MODES:
            fresh = figures[f"{route} cache {cache} fresh"]
            beside = figures[f"{route} cache {cache} expired"]
            ratio = beside.rps / fresh.rps if fresh.rps else 0.0
            passed &= ratio >= TARGET_RATIO and not (fresh.errors or beside.errors)
            verdict = "pass" if ratio >= TARGET_RATIO else "FAIL"
            p99 = f"{fresh.p99_ms:.1f}/{beside.p99_ms:.1f}"
            print(
                f"{route:<14} {cache:>5} {fresh.rps:>10,.0f} {beside.rps:>12,.0f} {ratio:>6.2f}"
                f" {p99:>13} >= {TARGET_RATIO} {verdict}"
            )
    return passed


def prune(url: str) -> None:
    """Run `userauth db prune` over the expired rows and print how long it took."""
    env = bench_environment(url, 4)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "userauth", "db", "prune"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.monotonic() - started
    print(f"\nuserauth db prune ({seconds:.0f} s, batches of 1,000):\n{done.stdout.rstrip()}")


def churn(url: str, minutes: float, workdir: Path, layout: ServerLayout) -> bool:
    """Log in, use and abandon sessions for `minutes`; print row counts; tell if flat.

    The accounts (new each time) and their audit events grow, as they should; the sessions
    and reset tokens, once past their first minute and a janitor interval, must not.
    """
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4))
    seed(url, SMALL_USERS, stored, random.Random(24))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:  # the churn starts with no session at all
            connection.execute(text("DELETE FROM sessions"))
    finally:
        engine.dispose()
    env = bench_environment(
        url,
        4,
        USERAUTH_SESSION_LIFETIME_MINUTES="1",
        USERAUTH_SESSION_IDLE_MINUTES="1",
        USERAUTH_RESET_TOKEN_MINUTES="1",
        USERAUTH_JANITOR_INTERVAL_SECONDS="10",
        USERAUTH_RATELIMIT_ENABLED="false",
    )
    server = start_userauth("churn", layout, env, workdir)
    stop = threading.Event()
    logins = [0]
    try:
        clients = [
            threading.Thread(target=_churn_client, args=(server, stop, logins, n))
            for n in range(2)
        ]
        for client in clients:
            client.start()
        samples = _sample(url, minutes, logins)
        stop.set()
        for client in clients:
            client.join()
    finally:
        stop.set()
        server.stop()
    # Flat: after the first lifetime and janitor interval, no sample exceeds the first
    # steady one by more than a fifth (the login rate varies with the machine's load).
    flat = all(
        _flat([counts[table] for second, _, counts in samples if second >= 90])
        for table in ("sessions", "one_time_secrets")
    )
    print(
        f"\nchurn: {minutes:g} minutes of sign-up, reset request, login, 5 x GET /profile by 2"
        " clients; sessions and reset tokens of 1 minute, janitor every 10 s"
    )
    print(f"{'second':>6} {'logins':>7} " + " ".join(f"{table:>16}" for table in CHURN_TABLES))
    for second, count, counts in samples:
        cells = " ".join(f"{counts[table]:>16,}" for table in CHURN_TABLES)
        print(f"{second:>6.0f} {count:>7,} {cells}")
    print(f"sessions and reset tokens flat after 90 s: {'pass' if flat else 'FAIL'}")
    return flat


Sample = tuple[float, int, dict[str, int]]


def _flat(counts: list[int]) -> bool:
    """Tell whether no count exceeds the first by more than a fifth (the login rate varies
    with the shared machine's load), or 50 rows."""
    return bool(counts) and max(counts) <= 1.2 * counts[0] + 50


def _sample(url: str, minutes: float, logins: list[int]) -> list[Sample]:
    started = time.monotonic()
    samples: list[Sample] = []
    while (elapsed := time.monotonic() - started) <= minutes * 60:
        samples.append((elapsed, logins[0], count_rows(url)))
        progress(f"churn {elapsed:.0f} s: {samples[-1][2]}")
        time.sleep(CHURN_SAMPLE_SECONDS)
    return samples


def _churn_client(server: Server, stop: threading.Event, logins: list[int], number: int) -> None:
    """Sign up a new account, ask for its reset token, log in, use the session; again.

    A new account each time: a login also deletes its own account's dead sessions, so
    revisited accounts would stay small without any janitor.
    """
    count = 0
    with requests.Session() as http:
        while not stop.is_set():
            count += 1
            form = {"email": f"churn-{number}-{count}@bench.example.com", "password": PASSWORD}
            http.cookies.clear()
            http.post(f"{server.url}/users", data=form, timeout=10).raise_for_status()
            reset = {"email": form["email"]}
            http.post(f"{server.url}/reset_password", data=reset, timeout=10).raise_for_status()
            http.post(f"{server.url}/sessions", data=form, timeout=10).raise_for_status()
            logins[0] += 1
            for _ in range(USES_PER_LOGIN):
                http.get(f"{server.url}/profile", timeout=10).raise_for_status()
            time.sleep(0.05)  # a modest rate: the machine is shared


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, the optional prune and the churn; return 0 when every target holds."""
    parser = argparse.ArgumentParser(prog="bench/run janitor", description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--expired", type=int, default=EXPIRED_SESSIONS)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    parser.add_argument("--prune", action="store_true", help="time a db prune of them after")
    parser.add_argument("--churn-minutes", type=float, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="userauth-bench-janitor-") as folder:
        workdir = Path(folder)
        if args.sqlite:
            fresh, expired = (f"sqlite:///{workdir / name}.db" for name in ("fresh", "expired"))
        elif args.postgres:
            fresh = args.postgres
            parsed = make_url(fresh)
            expired = parsed.set(database=f"{parsed.database}_expired").render_as_string(
                hide_password=False
            )
            for url in (fresh, expired):
                ensure_postgres_database(url)
        else:
            parser.error("pass --postgres URL (or set BENCH_POSTGRES_URL), or --sqlite")
        backend = "SQLite" if args.sqlite else "PostgreSQL"
        passed = True
        if args.expired:
            passed = report(backend, compare(args, fresh, expired, workdir), args.expired)
            if args.prune:
                prune(expired)
        if args.churn_minutes:
            layout = ServerLayout(workers=args.workers, threads=args.threads)
            passed &= churn(fresh, args.churn_minutes, workdir, layout)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
