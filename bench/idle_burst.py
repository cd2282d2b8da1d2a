"""Measure the gate right after a quiet spell, when every session is due an idle-clock write.

`python -m bench.idle_burst [--rounds R] [--quiet S] [--seconds N] [--postgres URL]` seeds
1,000 accounts and serves the bare Flask route and userauth side by side (bench/run's
servers and settings). Each round waits `--quiet` seconds with no load (past the 60 s after
which every session's idle clock is due a write: sessions.py), then runs wrk on the gate
`GET /auth/verify` over the 200 seeded sessions ("after quiet"), at once again ("warm"), then
on the bare route. It prints each run's p99 and rate and the median ratios to the bare
route's: the gate's tail after a quiet spell is what issue 14's `p99 <= 2 x` target caught.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import bcrypt

from bench.bench import PASSWORD, SMALL_USERS, progress
from bench.config import WRK_CONNECTIONS, bench_environment
from bench.load import Figures, run_wrk, script
from bench.seed import ensure_postgres_database, seed
from bench.servers import ServerLayout, start_bare, start_userauth
from userauth.settings import Settings

KINDS = ("after quiet", "warm", "bare")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.idle_burst", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet", type=float, default=65.0, help="seconds without load")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--postgres", help="PostgreSQL URL whose userauth tables may be emptied")
    return parser.parse_args(argv)


def measure(url: str, config: argparse.Namespace, workdir: Path) -> dict[str, list[Figures]]:
    """Seed `url`, serve it, and return every round's figures by kind."""
    defaults = Settings()
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(defaults.security.bcrypt_rounds))
    seeded = seed(url, SMALL_USERS, stored, random.Random(14))
    ids = workdir / "ids.txt"
    ids.write_text("\n".join(seeded.profile_sessions) + "\n")
    layout = ServerLayout(workers=defaults.server.workers, threads=defaults.server.threads)
    env = bench_environment(url, defaults.security.bcrypt_rounds)
    runs: dict[str, list[Figures]] = {kind: [] for kind in KINDS}
    with ExitStack() as stack:
        bare = start_bare("bare", layout, env, workdir)
        stack.callback(bare.stop)
        app = start_userauth("userauth", layout, env, workdir)
        stack.callback(app.stop)
        gate = (app.url, script("profile", workdir), [str(ids), "/auth/verify"])
        route = (bare.url, script("get", workdir), ["/"])
        for number in range(config.rounds):
            progress(f"round {number + 1}: {config.quiet:.0f} s without load")
            time.sleep(config.quiet)
            for kind, (server_url, lua, args) in zip(KINDS, (gate, gate, route), strict=True):
                figures = run_wrk(server_url, lua, config.seconds, WRK_CONNECTIONS, args)
                runs[kind].append(figures)
                progress(f"{kind}: p99 {figures.p99_ms:.2f} ms, {figures.rps:,.0f} requests/s")
    return runs


def report(name: str, runs: dict[str, list[Figures]]) -> list[str]:
    lines = [f"{name}:", "| round | run | requests/s | p99 ms |", "| ---: | --- | ---: | ---: |"]
    for number in range(len(runs["bare"])):
        for kind in KINDS:
            figures = runs[kind][number]
            lines.append(f"| {number + 1} | {kind} | {figures.rps:,.0f} | {figures.p99_ms:.2f} |")
    for kind in KINDS[:2]:
        ratios = [g.p99_ms / b.p99_ms for g, b in zip(runs[kind], runs["bare"], strict=True)]
        lines.append(f"gate {kind}: median p99 / bare p99 = {statistics.median(ratios):.2f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    backends = [("SQLite", None)]
    if config.postgres:
        ensure_postgres_database(config.postgres)
        backends.append(("PostgreSQL", config.postgres))
    lines: list[str] = []
    for name, postgres in backends:
        workdir = Path(tempfile.mkdtemp(prefix="userauth-idle-burst-"))
        url = postgres or f"sqlite:///{workdir}/bench.db"
        lines += report(name, measure(url, config, workdir))
        shutil.rmtree(workdir)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
