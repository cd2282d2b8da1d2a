"""Run the userauth benchmark and print its table and targets (entry point: bench/run).

Each backend gets three servers at once: baseline (a) (bench/bare.py), userauth on 1,000
accounts, and userauth on a million. The scenarios whose figures are compared run in
alternating order (A B C D, then D C B A), so the noise of a shared machine falls on both
sides of each ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import bcrypt
import psycopg
from sqlalchemy.engine import make_url

from bench import report
from bench.load import Figures, run_wrk, script
from bench.seed import Seeded, ensure_postgres_database, seed
from bench.servers import GunicornLayout, Server, start_bare, start_userauth
from userauth.settings import Settings

PASSWORD = "bench-password-1234"
SMALL_USERS = 1_000
RSS_LIMIT_MB = 100.0


@dataclass(frozen=True)
class Config:
    """How long and how hard to run."""

    seconds: int
    rounds: int
    big_users: int
    layout: GunicornLayout
    connections: int
    bcrypt_rounds: int
    bcrypt_samples: int
    postgres_url: str | None
    sqlite: bool


def parse_args(argv: Sequence[str] | None) -> Config:
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s runs, 100,000 rows")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 20; quick 5)")
    parser.add_argument("--rows", type=int, help="accounts and sessions of the large database")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of compared runs")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--connections", type=int, help="wrk connections (default 2 x threads)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="PostgreSQL URL whose userauth tables may be emptied (default $BENCH_POSTGRES_URL);"
        " the large data set goes to the same name with _big",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    args = parser.parse_args(argv)
    layout = GunicornLayout(workers=args.workers, threads=args.threads)
    return Config(
        seconds=args.seconds or (5 if args.quick else 20),
        rounds=max(1, args.rounds),
        big_users=args.rows or (100_000 if args.quick else 1_000_000),
        layout=layout,
        connections=args.connections or 2 * layout.threads,
        bcrypt_rounds=defaults.bcrypt_rounds,
        bcrypt_samples=5 if args.quick else 10,
        postgres_url=args.postgres,
        sqlite=not args.no_sqlite,
    )


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _time_checkpw(stored: bytes) -> float:
    start = time.perf_counter()
    bcrypt.checkpw(PASSWORD.encode(), stored)
    return time.perf_counter() - start


def checkpw_seconds(stored: bytes, samples: int, parallel: int) -> float:
    """Return the median time of one bcrypt.checkpw at the stored cost, `parallel` at once.

    One process per usable core, all busy: each call then sees the contention the server's
    workers see (a shared machine's other load included), not an idle core's speed.
    """
    with ProcessPoolExecutor(max_workers=parallel) as pool:
        times = list(pool.map(_time_checkpw, [stored] * (samples * parallel)))
    return statistics.median(times)


def server_env(database_url: str, config: Config) -> dict[str, str]:
    """The servers' environment: ours, minus any userauth setting, plus the benchmark's."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("USERAUTH_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=database_url,
        USERAUTH_ENV="development",
        USERAUTH_BCRYPT_ROUNDS=str(config.bcrypt_rounds),
        USERAUTH_TRUSTED_PROXIES="1",
    )
    return env


class Backend:
    """One database engine: seed, serve, preflight and measure every scenario on it."""

    def __init__(self, name: str, urls: tuple[str, str], config: Config, workdir: Path) -> None:
        self.name = name
        self.small_url, self.big_url = urls
        self.config = config
        self.workdir = workdir
        self.rows: list[report.Row] = []
        self.targets: list[report.Target] = []

    def run(self, stored: bytes, rng: random.Random) -> None:
        config = self.config
        started = time.monotonic()
        small = seed(self.small_url, SMALL_USERS, stored, rng)
        big = seed(self.big_url, config.big_users, stored, rng)
        progress(f"{self.name}: seeded in {time.monotonic() - started:.0f} s")
        with ExitStack() as stack:
            bare = self._start(stack, start_bare, "bare", self.small_url)
            app = self._start(stack, start_userauth, "1k", self.small_url)
            app_big = self._start(stack, start_userauth, "big", self.big_url)
            _preflight(app, small)
            _preflight(app_big, big, full=False)
            progress(f"{self.name}: servers ready and answering correctly")
            self._compared(bare, app, app_big, small, big)
            self._bcrypt_scenarios(app, small, stored)
        self._rss_target()

    def _start(
        self, stack: ExitStack, starter: Callable[..., Server], label: str, url: str
    ) -> Server:
        name = f"{self.name} {label}"
        server = starter(name, self.config.layout, server_env(url, self.config), self.workdir)
        stack.callback(server.stop)
        return server

    def _data(self, label: str, lines: list[str]) -> str:
        path = self.workdir / f"{self.name}-{label}.txt"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def _wrk(
        self, server: Server, scenario: str, args: Sequence[str], *, slow: bool = False
    ) -> Figures:
        lua = script(scenario, self.workdir)
        # bcrypt scenarios complete a few requests a second: longer runs, to count enough.
        seconds = self.config.seconds * (2 if slow else 1)
        return run_wrk(server.url, lua, seconds, self.config.connections, args)

    def _compared(
        self, bare: Server, app: Server, app_big: Server, small: Seeded, big: Seeded
    ) -> None:
        big_label = f"{big.users:,} users"
        small_ids = self._data("1k", small.profile_sessions)
        big_ids = self._data("big", big.profile_sessions)
        plan = [
            ("GET / (baseline a: bare Flask)", bare, "get", ["/"]),
            ("GET /", app, "get", ["/"]),
            (f"GET /profile, {small.users:,} users", app, "profile", [small_ids]),
            (f"GET /profile, {big_label}", app_big, "profile", [big_ids]),
        ]
        for _, server, scenario, args in plan:  # warm up: imports, pools, caches
            run_wrk(server.url, script(scenario, self.workdir), 2, self.config.connections, args)
        runs: dict[str, list[Figures]] = {label: [] for label, *_ in plan}
        rss: dict[str, float] = {}
        for round_number in range(self.config.rounds):
            order = plan if round_number % 2 == 0 else plan[::-1]
            for label, server, scenario, args in order:
                runs[label].append(self._wrk(server, scenario, args))
                rss[label] = server.peak_rss_mb()
                progress(f"{self.name}: {label}: {runs[label][-1].rps:,.0f} requests/s")
        merged = {label: Figures.merge(figures) for label, figures in runs.items()}
        sessions_note = f"{len(small.profile_sessions)} sessions rotated"
        for label, *_ in plan:
            note = sessions_note if "profile" in label else ""
            self.rows.append(report.Row(self.name, label, merged[label], rss[label], note))
        bare_figures, profile, profile_big = (merged[plan[i][0]] for i in (0, 2, 3))
        self._target("GET /profile rps / (a) rps", profile.rps, bare_figures.rps, 0.75)
        self._target(
            "GET /profile p99 / (a) p99",
            profile.p99_ms,
            bare_figures.p99_ms,
            3.0,
            at_most=True,
            unit=" ms",
        )
        self._target(
            f"GET /profile rps, {big_label} / 1,000 users", profile_big.rps, profile.rps, 0.9
        )

    def _bcrypt_scenarios(self, app: Server, small: Seeded, stored: bytes) -> None:
        samples = self.config.bcrypt_samples
        threads = self.config.layout.workers * self.config.layout.threads
        usable = min(app.cores(), threads)
        before = checkpw_seconds(stored, samples, usable)
        logins = self._data("logins", small.login_emails)
        login = self._wrk(app, "login", [logins, PASSWORD], slow=True)
        after = checkpw_seconds(stored, samples, usable)
        check = (before + after) / 2
        bound = usable / check
        note = (
            f"steady {login.steady_rps(self.config.connections):.2f}/s; bcrypt bound "
            f"{bound:.2f}/s = {usable} cores / {check * 1000:.0f} ms checkpw"
        )
        self.rows.append(report.Row(self.name, "POST /sessions", login, app.peak_rss_mb(), note))
        steady = login.steady_rps(self.config.connections)
        self._target("POST /sessions steady rps / bcrypt bound", steady, bound, 0.85, unit="/s")
        errors = report.Target(
            self.name, "POST /sessions errors", str(login.errors), login.errors, 0, at_most=True
        )
        self.targets.append(errors)
        progress(f"{self.name}: POST /sessions: {steady:.2f}/s steady, bound {bound:.2f}/s")
        register = self._wrk(app, "register", [uuid.uuid4().hex[:12], PASSWORD], slow=True)
        self.rows.append(report.Row(self.name, "POST /users", register, app.peak_rss_mb()))
        progress(f"{self.name}: POST /users: {register.rps:.2f}/s")
        resets = self._data("resets", small.reset_emails)
        reset = self._wrk(app, "reset", [resets, PASSWORD], slow=True)
        failed = reset.counters.get("failed", 0)
        note = f"{reset.count_rate('pairs'):.2f} pairs/s, {failed} failed"
        self.rows.append(
            report.Row(self.name, "POST+PUT /reset_password", reset, app.peak_rss_mb(), note)
        )
        progress(f"{self.name}: reset pair: {note}")

    def _rss_target(self) -> None:
        rss = max(row.rss_mb for row in self.rows if "bare" not in row.scenario)
        measured = f"{rss:.1f} MB"
        name = "peak RSS per worker"
        self.targets.append(
            report.Target(self.name, name, measured, rss, RSS_LIMIT_MB, at_most=True)
        )

    def _target(
        self,
        name: str,
        value: float,
        base: float,
        limit: float,
        *,
        at_most: bool = False,
        unit: str = "",
    ) -> None:
        measured = f"{value:,.2f}{unit} / {base:,.2f}{unit}"
        ratio = value / base if base else 0.0
        self.targets.append(report.Target(self.name, name, measured, ratio, limit, at_most))


def _call(
    server: Server,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    cookie: str | None = None,
) -> tuple[int, dict[str, object]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    # S310: the URL is our own server's, on loopback, always http.
    request = urllib.request.Request(server.url + path, data=data, method=method)  # noqa: S310
    if cookie is not None:
        request.add_header("Cookie", f"session_id={cookie}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def _preflight(server: Server, seeded: Seeded, *, full: bool = True) -> None:
    """Check that each scenario's request succeeds once, before measuring it.

    Raises:
        RuntimeError: naming the request that failed.
    """
    checks: list[tuple[str, tuple[int, dict[str, object]], dict[str, object]]] = [
        (
            "GET /profile",
            _call(server, "GET", "/profile", cookie=seeded.profile_sessions[0]),
            {"email": seeded.profile_emails[0]},
        ),
    ]
    if full:
        login = {"email": seeded.login_emails[0], "password": PASSWORD}
        checks.append(("POST /sessions", _call(server, "POST", "/sessions", login), {}))
        new = {
            "email": f"preflight-{uuid.uuid4().hex[:8]}@bench.example.com",
            "password": PASSWORD,
        }
        checks.append(("POST /users", _call(server, "POST", "/users", new), {}))
        email = seeded.reset_emails[0]
        issued = _call(server, "POST", "/reset_password", {"email": email})
        checks.append(("POST /reset_password", issued, {"email": email}))
        spend = {
            "email": email,
            "reset_token": str(issued[1].get("reset_token")),
            "new_password": PASSWORD,
        }
        checks.append(("PUT /reset_password", _call(server, "PUT", "/reset_password", spend), {}))
    for name, (status, body), expected in checks:
        if status != 200 or any(body.get(key) != value for key, value in expected.items()):
            raise RuntimeError(f"{server.name}: preflight {name} answered {status} {body}")


def postgres_urls(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    big = parsed.set(database=f"{parsed.database}_big").render_as_string(hide_password=False)
    ensure_postgres_database(url)
    ensure_postgres_database(big)
    return url, big


def postgres_version(url: str) -> str:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    config = parse_args(argv)
    rng = random.Random()
    workdir = Path(tempfile.mkdtemp(prefix="userauth-bench-"))
    progress(f"work directory {workdir}; hashing the password at cost {config.bcrypt_rounds}")
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(config.bcrypt_rounds))
    backends: list[Backend] = []
    if config.sqlite:
        urls = (f"sqlite:///{workdir}/small.db", f"sqlite:///{workdir}/big.db")
        backends.append(Backend("SQLite", urls, config, workdir))
    if config.postgres_url:
        backends.append(Backend("PostgreSQL", postgres_urls(config.postgres_url), config, workdir))
    for backend in backends:
        backend.run(stored, rng)  # on an error, the work directory stays for its server logs
    shutil.rmtree(workdir)
    _print(config, backends)
    if not config.postgres_url:
        print("\nPostgreSQL not measured: set BENCH_POSTGRES_URL or pass --postgres.")
        return 1
    return 0 if all(t.passed for b in backends for t in b.targets) else 1


def _print(config: Config, backends: list[Backend]) -> None:
    version = postgres_version(config.postgres_url) if config.postgres_url else None
    layout = config.layout
    lines = [
        *report.machine(version),
        f"settings: granian (WSGI), {layout.workers} workers x {layout.threads} threads, "
        f"bcrypt cost {config.bcrypt_rounds}; wrk 1 thread, {config.connections} connections, "
        f"{config.seconds} s per run, {config.rounds} alternating rounds of the compared runs; "
        f"large data set {config.big_users:,} users and sessions",
        "",
        *report.table([row for backend in backends for row in backend.rows]),
        "",
        *report.targets([target for backend in backends for target in backend.targets]),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
