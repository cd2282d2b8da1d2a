"""Price one OpenID Connect provider request in process: instructions (callgrind) or a profile.

`python -m bench.oidc_profile [--requests N] [--postgres URL]` counts, under valgrind's
callgrind, the instructions of N refresh grants, N userinfo and N introspection requests
through Flask's test client over the app `userauth serve` runs, on a seeded SQLite database
(or the PostgreSQL database at URL, which it empties). Tokens are made as bench/oidc_pools.py
makes them (a real code flow, then the code exchange), before counting starts; each scenario
runs inside `operator.call`, which callgrind alone collects (as bench/layers.py does), so
start-up, the pools and other processes' load are not counted. `--profile` prints cProfile's
cumulative top instead (CPU times: noisy on a loaded machine; the call counts are not).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import operator
import pstats
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import bcrypt
from flask.testing import FlaskClient

from bench.config import bench_environment
from bench.oidc_pools import BenchClient, Pools
from bench.seed import ensure_postgres_database, seed
from userauth.auth import Auth
from userauth.settings import Settings
from userauth.web import create_app

USERS = 200
SESSIONS = 50
# The C function of `operator.call` in libpython: nothing on a request's path calls it.
_COLLECTED = "_operator_call"
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)

Scenario = tuple[str, Callable[[], None]]


@contextmanager
def _database(postgres: str | None) -> Iterator[str]:
    if postgres is not None:
        ensure_postgres_database(postgres)
        yield postgres
        return
    with tempfile.TemporaryDirectory(prefix="userauth-oidc-profile-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def _scenarios(url: str, requests: int) -> Iterator[list[Scenario]]:
    """Seed `url`, make the tokens, and yield the scenarios (each runs `requests` requests)."""
    stored = bcrypt.hashpw(b"bench password", bcrypt.gensalt(4))
    seeded = seed(url, USERS, stored, random.Random(27))
    env = bench_environment(url, 4)
    pools = Pools(env, seeded.profile_sessions[:SESSIONS])
    auth = Auth.from_settings(Settings.from_env(env))
    try:
        client = pools.register("RS256")
        # Twice over: one half warms up, the other is measured.
        pairs = pools.tokens(client, 2 * requests)
        app = create_app(Settings.from_env(env), auth)
        logging.getLogger("userauth.access").setLevel(logging.WARNING)
        rp = app.test_client()
        yield [
            ("refresh grant", _refreshes(rp, client, [r for _, r in pairs])),
            ("userinfo", _userinfo(rp, [a for a, _ in pairs])),
            ("introspection", _introspection(rp, client, [a for a, _ in pairs])),
        ]
    finally:
        auth.db.close()
        pools.close()


def _refreshes(rp: FlaskClient, client: BenchClient, refresh: list[str]) -> Callable[[], None]:
    def one() -> None:
        answer = rp.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh.pop()},
            headers={"Authorization": client.basic},
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)

    return one


def _userinfo(rp: FlaskClient, access: list[str]) -> Callable[[], None]:
    turn = iter(range(10**9))

    def one() -> None:
        token = access[next(turn) % len(access)]
        answer = rp.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)

    return one


def _introspection(rp: FlaskClient, client: BenchClient, access: list[str]) -> Callable[[], None]:
    turn = iter(range(10**9))

    def one() -> None:
        token = access[next(turn) % len(access)]
        answer = rp.post(
            "/oauth2/introspect", data={"token": token}, headers={"Authorization": client.basic}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["active"], answer.get_json()

    return one


def _run(scenario: Scenario, requests: int) -> None:
    for _ in range(requests):
        scenario[1]()


def _inner(requests: int, postgres: str | None, profile: bool) -> None:
    with _database(postgres) as url:
        for found in _scenarios(url, requests):
            for scenario in found:
                _run(scenario, requests)  # warm, not counted
            for scenario in found:
                gc.collect()
                gc.disable()
                try:
                    if profile:
                        _profiled(scenario, requests)
                    else:
                        operator.call(_run, scenario, requests)
                finally:
                    gc.enable()
            print("\n".join(name for name, _ in found), file=sys.__stdout__)


def _profiled(scenario: Scenario, requests: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(_run, scenario, requests)
    print(f"\n=== {scenario[0]} ({requests} requests)", file=sys.__stderr__)
    stats = pstats.Stats(profiler, stream=sys.__stderr__)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def count(requests: int, postgres: str | None) -> dict[str, float]:
    """Return each scenario's instructions per request, counted by callgrind."""
    with tempfile.TemporaryDirectory(prefix="userauth-callgrind-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={_COLLECTED}",
            f"--dump-after={_COLLECTED}",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "bench.oidc_profile",
            "--inner",
            f"--requests={requests}",
            *([f"--postgres={postgres}"] if postgres else []),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
        names = [name for name in done.stdout.splitlines() if name]
        dumps = sorted(Path(folder).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        totals = [int(_TOTALS.findall(dump.read_text())[-1]) for dump in dumps]
    if len(totals) != len(names):
        raise SystemExit(f"{len(totals)} callgrind dumps for {len(names)} scenarios")
    return {name: total / requests for name, total in zip(names, totals, strict=True)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per scenario")
    parser.add_argument("--postgres", help="a PostgreSQL database URL this may empty")
    parser.add_argument("--profile", action="store_true", help="cProfile instead of callgrind")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.inner or options.profile:
        _inner(options.requests, options.postgres, options.profile)
        return
    for name, instructions in count(options.requests, options.postgres).items():
        print(f"{name:<16} {instructions / 1e6:8.2f} M instructions per request")


if __name__ == "__main__":
    main()
