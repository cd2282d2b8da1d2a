"""One benchmark run's settings: bench/run's command line, and the servers' environment."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass

from bench import peer_apps
from bench.peer_apps import Peer
from bench.servers import ServerLayout
from userauth.allocator import GRANIAN_MALLOC_CONF, GRANIAN_MALLOC_CONF_VARIABLE
from userauth.settings import Settings

# wrk's connections: the load issue 14 measured with (2 workers, -c8), whatever the threads.
WRK_CONNECTIONS = 8


@dataclass(frozen=True)
class Config:
    """How long and how hard to run."""

    seconds: int
    # Quick runs give the peers shorter runs and every server a shorter warm-up: their
    # rates are still ratios of the same round, just noisier.
    peer_seconds: int
    warm_up_seconds: int
    rounds: int
    big_users: int
    layout: ServerLayout
    connections: int
    bcrypt_rounds: int
    bcrypt_samples: int
    postgres_url: str | None
    sqlite: bool
    peers: tuple[Peer, ...]
    # Only userauth on 1,000 accounts: the login, then the second step against it.
    second_factor_only: bool = False
    # Only the bare route and userauth on 1,000 accounts: the OpenID Connect provider's
    # endpoints (bench/oidc.py).
    oidc_only: bool = False


def parse_args(argv: Sequence[str] | None, description: str) -> Config:
    """Read bench/run's command line (and $BENCH_POSTGRES_URL) into a Config."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="bench/run", description=description)
    parser.add_argument("--quick", action="store_true", help="5 s runs, 100,000 rows")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 20; quick 5)")
    parser.add_argument("--rows", type=int, help="accounts and sessions of the large database")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of compared runs")
    parser.add_argument("--workers", type=int, default=defaults.server.workers)
    parser.add_argument("--threads", type=int, default=defaults.server.threads)
    parser.add_argument("--connections", type=int, help="wrk connections (default 8)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="PostgreSQL URL whose userauth tables may be emptied (default $BENCH_POSTGRES_URL);"
        " the large data set goes to the same name with _big",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--no-peers", action="store_true", help="leave the peer apps out")
    parser.add_argument(
        "--second-factor-only",
        action="store_true",
        help="only the login and POST /sessions/second-factor (their ratio, peak RSS)",
    )
    parser.add_argument(
        "--oidc-only",
        action="store_true",
        help="only the OpenID Connect provider's token, refresh, userinfo and introspection"
        " endpoints, against the bare route",
    )
    args = parser.parse_args(argv)
    # Quick runs leave out the optional JWT row: it would not fit in their budget.
    peers = peer_apps.QUICK_PEERS if args.quick else peer_apps.ALL_PEERS
    layout = ServerLayout(workers=args.workers, threads=args.threads)
    return Config(
        seconds=args.seconds or (5 if args.quick else 20),
        peer_seconds=min(3, args.seconds or 3) if args.quick else (args.seconds or 20),
        warm_up_seconds=1 if args.quick else 2,
        rounds=max(1, args.rounds),
        big_users=args.rows or (100_000 if args.quick else 1_000_000),
        layout=layout,
        connections=args.connections or WRK_CONNECTIONS,
        bcrypt_rounds=defaults.security.bcrypt_rounds,
        bcrypt_samples=5 if args.quick else 10,
        postgres_url=args.postgres,
        sqlite=not args.no_sqlite,
        peers=() if args.no_peers or args.second_factor_only or args.oidc_only else peers,
        second_factor_only=args.second_factor_only,
        oidc_only=args.oidc_only,
    )


def bench_environment(database_url: str, bcrypt_rounds: int, **extra: str) -> dict[str, str]:
    """A benchmarked server's environment: ours minus any userauth setting, plus the bench's.

    Development mode (no SMTP needed), the given bcrypt cost, one trusted proxy (wrk's
    requests carry X-Forwarded-For, so rate limits see many clients), granian's allocator
    options as `userauth serve` sets them (so the bare route runs on the same), then `extra`.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("USERAUTH_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=database_url,
        USERAUTH_ENV="development",
        USERAUTH_BCRYPT_ROUNDS=str(bcrypt_rounds),
        USERAUTH_TRUSTED_PROXIES="1",
        **{GRANIAN_MALLOC_CONF_VARIABLE: GRANIAN_MALLOC_CONF},
        **extra,
    )
    return env


def server_env(database_url: str, config: Config) -> dict[str, str]:
    """The servers' environment for this run's settings (bench_environment)."""
    return bench_environment(database_url, config.bcrypt_rounds)
