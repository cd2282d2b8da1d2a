"""Measure the session cache: GET /profile with it on and off, against the bare route.

`python -m bench.session_cache [--seconds S] [--rounds R] [--postgres URL] [--no-sqlite]`
starts three servers per backend under the same server settings (bench/bare.py, userauth
with USERAUTH_SESSION_CACHE=on, and =off) on one seeded database of 1,000 accounts, and runs
wrk against them in alternating order (A B C, then C B A). It prints requests/s, p99 and
each userauth figure as a ratio to the bare route measured in the same run.
`--in-process` instead calls the WSGI apps directly (bench/overhead.py's method, SQLite):
microseconds per request, free of the server and of the machine's other load on sockets.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import bcrypt

from bench.bare import app as bare_app
from bench.bench import PASSWORD, SMALL_USERS, progress
from bench.config import parse_args, server_env
from bench.load import Figures, run_wrk, script
from bench.overhead import Scenario, call, environ, logged_in_cookie
from bench.overhead import measure as measure_in_process
from bench.seed import ensure_postgres_database, postgres_urls, seed
from bench.servers import Server, start_bare, start_userauth
from userauth import migrations
from userauth.settings import (
    DatabaseSettings,
    RateLimitSettings,
    SecuritySettings,
    Settings,
)
from userauth.web import create_app


def measure(name: str, url: str, argv: list[str], workdir: Path) -> dict[str, Figures]:
    """Seed `url`, serve it three ways, and return the merged figures of each."""
    config = parse_args(argv, __doc__.splitlines()[0])
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(config.bcrypt_rounds))
    small = seed(url, SMALL_USERS, stored, random.Random(14))
    ids = workdir / f"{name}-ids.txt"
    ids.write_text("\n".join(small.profile_sessions) + "\n")
    env = server_env(url, config)
    with ExitStack() as stack:

        def started(label: str, starter: Callable[..., Server], **extra: str) -> Server:
            server = starter(f"{name} {label}", config.layout, {**env, **extra}, workdir)
            stack.callback(server.stop)
            return server

        plan = [
            ("GET / (bare Flask)", started("bare", start_bare), "get", ["/"]),
            (
                "GET /profile, cache on",
                started("on", start_userauth, USERAUTH_SESSION_CACHE="on"),
                "profile",
                [str(ids)],
            ),
            (
                "GET /profile, cache off",
                started("off", start_userauth, USERAUTH_SESSION_CACHE="off"),
                "profile",
                [str(ids)],
            ),
        ]
        for _, server, scenario, args in plan:  # warm up: imports, pools, caches
            run_wrk(server.url, script(scenario, workdir), 2, config.connections, args)
        runs: dict[str, list[Figures]] = {label: [] for label, *_ in plan}
        for round_number in range(config.rounds):
            order = plan if round_number % 2 == 0 else plan[::-1]
            for label, server, scenario, args in order:
                lua = script(scenario, workdir)
                runs[label].append(
                    run_wrk(server.url, lua, config.seconds, config.connections, args)
                )
                progress(f"{name}: {label}: {runs[label][-1].rps:,.0f} requests/s")
    return {label: Figures.merge(figures) for label, figures in runs.items()}


def report(name: str, figures: dict[str, Figures]) -> None:
    """Print one backend's table: requests/s, p99 in ms, ratio to the bare route, errors."""
    bare = figures["GET / (bare Flask)"]
    print(f"\n{name}")
    print(f"{'scenario':<26} {'requests/s':>11} {'p99 ms':>8} {'rps/bare':>9} {'errors':>7}")
    for label, run in figures.items():
        ratio = run.rps / bare.rps if bare.rps else 0.0
        print(f"{label:<26} {run.rps:>11,.0f} {run.p99_ms:>8.1f} {ratio:>9.2f} {run.errors:>7}")
    on, off = figures["GET /profile, cache on"], figures["GET /profile, cache off"]
    print(f"cache on / cache off: {on.rps / off.rps:.2f}x requests/s" if off.rps else "")


def in_process(workdir: Path, requests: int, rounds: int) -> None:
    """Print microseconds per GET /profile, cache on and off, next to bare Flask GET /."""
    scenarios = [Scenario("GET / (bare Flask)", bare_app, environ("/"))]
    for label, size in (("on", SecuritySettings.session_cache_size), ("off", 0)):
        settings = Settings(
            database=DatabaseSettings(url=f"sqlite:///{workdir / f'in-process-{label}.db'}"),
            security=SecuritySettings(bcrypt_rounds=4, session_cache_size=size),
            rate_limits=RateLimitSettings(enabled=False),
        )
        migrations.ensure_current(settings.database.url, auto_migrate=True)
        app = create_app(settings)
        cookie = logged_in_cookie(app)
        scenario = Scenario(
            f"GET /profile, cache {label}", app, environ("/profile", Cookie=cookie)
        )
        if b"@" not in call(scenario):
            raise SystemExit(f"GET /profile (cache {label}) did not answer with the user")
        scenarios.append(scenario)
    micros = measure_in_process(scenarios, requests, rounds)
    bare = micros["GET / (bare Flask)"]
    print(f"\nin process (SQLite), median of {rounds} rounds of {requests} requests")
    for name, value in micros.items():
        print(f"{name:<26} {value:>8.1f} µs  {value / bare:>5.2f} x bare")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure SQLite (unless --no-sqlite) and PostgreSQL (when a URL is given); return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="WSGI calls, no server")
    args = parser.parse_args(argv)
    common = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]
    with tempfile.TemporaryDirectory(prefix="userauth-bench-cache-") as folder:
        workdir = Path(folder)
        if args.in_process:
            in_process(workdir, 2000, max(args.rounds, 5))
            return 0
        if not args.no_sqlite:
            url = f"sqlite:///{workdir / 'cache.db'}"
            report("SQLite", measure("sqlite", url, common, workdir))
        if args.postgres:
            url = postgres_urls(args.postgres)[0]
            ensure_postgres_database(url)
            report("PostgreSQL", measure("postgres", url, common, workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
