"""The OpenID Connect provider's scenarios (issue 27, item 7): `bench/run --oidc-only`.

The token endpoint exchanging a code (its ID token signed RS256, then ES256), the refresh
grant, userinfo and introspection, each next to the bare Flask route (baseline a) served at
the same time, all in alternating rounds, so each row is a ratio to the bare route of the
same run. The refresh grant is also given per core, against Keycloak's published sizing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench import report
from bench.config import server_env
from bench.load import Figures
from bench.oidc_pools import REDIRECT, BenchClient, Pools
from bench.seed import Seeded
from bench.servers import Server

if TYPE_CHECKING:
    from bench.bench import Backend

# Keycloak's sizing guide: one vCPU "for each 120 refresh token requests per second"
# (tested up to 435/s; https://www.keycloak.org/high-availability/concepts-memory-and-cpu-sizing).
# Issue 27 asks for 4 x that per core.
KEYCLOAK_REFRESH_PER_VCPU = 120.0
REFRESH_PER_CORE_LIMIT = 4.0
# Codes for a warm-up run, and the bounds of a measured run's pool (sized from the warm-up:
# a code lives 60 s, so a pool must be made, and spent, within that).
WARM_UP_CODES = 300
MIN_CODES, MAX_CODES = 500, 6_000
MAKING_SECONDS = 40
# Live token families per run of the refresh scenario (more than wrk's connections: each
# connection holds one while its request is in flight), and access tokens for userinfo
# and introspection to rotate over.
REFRESH_FAMILIES = 64
ACCESS_TOKENS = 64
# Seeded sessions the codes are issued from (each code names its session).
SESSIONS = 50
BARE = "GET / (baseline a: bare Flask)"
NOT_SIGNED = "none: opaque tokens and plain JSON, nothing signed"


Prepare = Callable[[int, float | None], list[str]]


@dataclass
class Scenario:
    """One compared run: its row, its wrk script, what signed its answers, its arguments."""

    label: str
    lua: str
    server: Server
    signed: str
    # Return wrk's arguments for a run of `seconds`, given the warm-up's requests/s (None:
    # this run is the warm-up).
    prepare: Prepare
    # The counter of completed grants ("" when every 2xx answer counts).
    counter: str = ""
    warm_rps: float = 0.0


def measure(backend: Backend, bare: Server, app: Server, small: Seeded) -> None:
    """Time the scenarios against the bare route; add their rows and the refresh target."""
    started = time.monotonic()
    pools = Pools(server_env(backend.small_url, backend.config), small.profile_sessions[:SESSIONS])
    try:
        plan = _plan(backend, pools, bare, app)
        backend.progress(f"clients and tokens made in {time.monotonic() - started:.0f} s")
        merged = _alternate(backend, plan)
    finally:
        pools.close()
    base = merged[BARE]
    for scenario in plan:
        figures = merged[scenario.label]
        rate = figures.count_rate(scenario.counter) if scenario.counter else figures.rps
        note = f"signed: {scenario.signed}"
        if scenario.server is app:
            note = f"{rate:,.0f}/s = {rate / base.rps:.3f} x (a); {note}"
            for counter in ("exhausted", "starved"):
                if figures.counters.get(counter):
                    note += f"; {figures.counters[counter]} {counter}"
        kind = "userauth" if scenario.server is app else "baseline"
        row = report.Row(backend.name, scenario.label, figures, app.peak_rss_mb(), note, "", kind)
        backend.rows.append(row)
    refresh = merged[_REFRESH].count_rate("completed")
    per_core = refresh / app.cores()
    backend.progress(f"refresh grants: {refresh:,.0f}/s, {per_core:,.0f}/s per core")
    backend.targets.append(
        report.Target(
            backend.name,
            f"refresh grants/s per core ({app.cores()} cores) / Keycloak's 120 per vCPU",
            f"{per_core:,.1f}/s / {KEYCLOAK_REFRESH_PER_VCPU:.0f}/s",
            per_core / KEYCLOAK_REFRESH_PER_VCPU,
            REFRESH_PER_CORE_LIMIT,
        )
    )


_REFRESH = "POST /oauth2/token (refresh_token grant, rotation)"


def _plan(backend: Backend, pools: Pools, bare: Server, app: Server) -> list[Scenario]:
    clients = {alg: pools.register(alg) for alg in ("RS256", "ES256")}
    rs256 = clients["RS256"]
    access = [token for token, _ in pools.tokens(rs256, ACCESS_TOKENS)]
    access_file = backend.data("oidc-access", access)

    def fixed(*args: str) -> Prepare:
        return lambda seconds, warm_rps: list(args)

    plan = [Scenario(BARE, "get", bare, "none", fixed("/"))]
    for alg, client in clients.items():
        label = f"POST /oauth2/token (code exchange, ID token {alg})"
        plan.append(
            Scenario(
                label,
                "oidc_code",
                app,
                f"{alg} (the ID token; the access and refresh tokens are opaque)",
                _code_args(backend, pools, client),
                counter="completed",
            )
        )

    def refresh_args(seconds: int, warm_rps: float | None) -> list[str]:
        fresh = [refresh for _, refresh in pools.tokens(rs256, REFRESH_FAMILIES)]
        return [backend.data("oidc-refresh", fresh), rs256.basic]

    plan += [
        Scenario(
            _REFRESH,
            "oidc_refresh",
            app,
            "none: no ID token on refresh, opaque tokens",
            refresh_args,
            counter="completed",
        ),
        Scenario(
            "GET /oauth2/userinfo (bearer token)",
            "oidc_userinfo",
            app,
            NOT_SIGNED,
            fixed(access_file),
        ),
        Scenario(
            "POST /oauth2/introspect (client_secret_basic)",
            "oidc_introspect",
            app,
            NOT_SIGNED,
            fixed(access_file, rs256.basic),
            counter="active",
        ),
    ]
    return plan


def _code_args(backend: Backend, pools: Pools, client: BenchClient) -> Prepare:
    """Make codes just before each run: a warm-up's few, then what 2 x its rate spends."""

    made_per_second = [0.0]

    def prepare(seconds: int, warm_rps: float | None) -> list[str]:
        count = WARM_UP_CODES
        if warm_rps is not None:
            # The first code made must still be live when the run ends.
            count = int(min(2 * warm_rps * seconds, made_per_second[0] * MAKING_SECONDS))
            count = max(MIN_CODES, min(MAX_CODES, count))
        started = time.monotonic()
        lines = pools.codes(client, count)
        took = time.monotonic() - started
        if warm_rps is None:
            made_per_second[0] = count / took
        backend.progress(f"{count} {client.alg} codes in {took:.1f} s")
        return [backend.data(f"oidc-codes-{client.alg}", lines), client.basic, REDIRECT]

    return prepare


def _alternate(backend: Backend, plan: list[Scenario]) -> dict[str, Figures]:
    """Warm each scenario up, then run them in alternating rounds; merge each one's runs."""
    config = backend.config
    for scenario in plan:
        args = scenario.prepare(config.warm_up_seconds, None)
        warm = backend.wrk(scenario.server, scenario.lua, args, seconds=config.warm_up_seconds)
        scenario.warm_rps = warm.rps
    runs: dict[str, list[Figures]] = {scenario.label: [] for scenario in plan}
    for round_number in range(config.rounds):
        for scenario in plan if round_number % 2 == 0 else plan[::-1]:
            args = scenario.prepare(config.seconds, scenario.warm_rps)
            figures = backend.wrk(scenario.server, scenario.lua, args)
            runs[scenario.label].append(figures)
            # A loaded machine's warm-up can be slow: a later run's pool follows the fastest.
            scenario.warm_rps = max(scenario.warm_rps, figures.rps)
            backend.progress(f"{scenario.label}: {figures.rps:,.0f} requests/s")
    return {label: Figures.merge(figures) for label, figures in runs.items()}
