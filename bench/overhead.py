"""Measure userauth's per-request overhead in process, against the bare Flask baseline.

`python -m bench.overhead [--requests N] [--rounds R]` calls each app's WSGI callable
directly (no server, no socket), so what it prints is the cost of Flask plus userauth's
middleware, routes and database lookup: microseconds per request for the bare WSGI callable
and bare Flask GET /, and userauth's GET /, GET /profile and the gate (a logged-in session
on SQLite, answered by the hot path), GET /sessions and the login page, each the median
of R rounds of N requests. `--layers` prices each layer of the Flask-served routes instead
(bench/layers.py). The scenarios alternate within each round, so the noise of a
shared machine falls on all of them. The access log goes to a line-buffered file, as
stderr is; the benchmark checks that it holds one line per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.test import EnvironBuilder

from bench import layers
from bench.bare import app as bare_app
from bench.bare_wsgi import app as bare_wsgi_app
from userauth import migrations
from userauth.settings import (
    DatabaseSettings,
    RateLimitSettings,
    SecuritySettings,
    Settings,
)
from userauth.web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

EMAIL = "bench@example.com"
PASSWORD = "bench-password"


@dataclass(frozen=True)
class Scenario:
    """One request, replayed against one WSGI app."""

    name: str
    app: WSGIApplication
    environ: WSGIEnvironment
    # Held while the scenario is timed (a layer switched off for it).
    context: Callable[[], AbstractContextManager[object]] = nullcontext


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
    pass


def call(scenario: Scenario) -> bytes:
    """Serve the scenario's request once and return the body."""
    # A copy: a WSGI app may write into its environ (Flask and userauth both do).
    answer: Iterable[bytes] = scenario.app(dict(scenario.environ), _start_response)  # type: ignore[arg-type]
    try:
        return b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()


def time_round(scenario: Scenario, requests: int) -> float:
    """Return the mean CPU microseconds of this thread per request over `requests` calls.

    CPU time of the calling thread, not wall time: on a shared machine a thread waiting for
    a core is not charged for the wait, so other processes' load moves the figures far less.
    """
    with scenario.context():
        started = time.thread_time()
        for _ in range(requests):
            call(scenario)
        return (time.thread_time() - started) * 1e6 / requests


def logged_in_cookie(app: WSGIApplication) -> str:
    """Register and log in through the app; return the Cookie header for the session."""
    client = app.test_client()  # type: ignore[attr-defined]
    # Refused when another app on the same database registered the email first: no matter.
    client.post("/users", data={"email": EMAIL, "password": PASSWORD})
    client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    cookie = client.get_cookie("session_id")
    if cookie is None:
        raise SystemExit("login failed: no session cookie")
    return f"session_id={cookie.value}"


def environ(path: str, **headers: str) -> WSGIEnvironment:
    environ: WSGIEnvironment = EnvironBuilder(
        path=path, headers=list(headers.items()), environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ).get_environ()
    return environ


def scenarios(folder: Path) -> list[Scenario]:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{folder / 'bench.db'}"),
        security=SecuritySettings(bcrypt_rounds=4),
        rate_limits=RateLimitSettings(enabled=False),
    )
    migrations.ensure_current(settings.database.url, auto_migrate=False)
    app = create_app(settings)
    cookie = logged_in_cookie(app)
    profile = Scenario("userauth GET /profile", app, environ("/profile", Cookie=cookie))
    if call(profile) != f'{{"email":"{EMAIL}"}}\n'.encode():
        raise SystemExit("GET /profile did not answer with the logged-in user")
    return [
        Scenario("bare WSGI GET /", bare_wsgi_app, environ("/")),
        Scenario("bare Flask GET /", bare_app, environ("/")),
        Scenario("userauth GET /", app, environ("/")),
        profile,
        Scenario("userauth gate", app, environ("/auth/verify", Cookie=cookie)),
        Scenario("userauth GET /sessions", app, environ("/sessions", Cookie=cookie)),
        Scenario("userauth GET /auth/login", app, environ("/auth/login")),
    ]


# The routes Flask serves in full, and the gate, priced layer by layer (--layers).
LAYERED_ROUTES = ("/", "/sessions", "/auth/login", "/auth/verify")
# The routes asked with a session's cookie.
SESSION_ROUTES = frozenset({"/sessions", "/auth/verify"})


def layered_scenarios(folder: Path, *, whole_only: bool = False) -> list[Scenario]:
    """Every route of LAYERED_ROUTES against the whole app and each copy without a layer
    (the whole app alone with `whole_only`)."""
    found = [Scenario("bare Flask GET /", bare_app, environ("/"))]
    for layer in layers.LAYERS[:1] if whole_only else layers.LAYERS:
        app = layers.build(folder, layer)
        # A session of each app's own: each has the same session cache and idle clock state.
        cookie = logged_in_cookie(app)
        for path in LAYERED_ROUTES:
            # As bench/run sends them: the greeting and the login page to a new visitor.
            headers = {"Cookie": cookie} if path in SESSION_ROUTES else {}
            request = environ(path, **headers)
            found.append(Scenario(f"{layer.name}|{path}", app, request, layer.context))
    return found


def print_layers(results: dict[str, float], unit: str = "µs", scale: float = 1.0) -> None:
    """Print the whole app's cost per route, then each layer's (whole minus without it)."""
    results = {name: value * scale for name, value in results.items()}
    bare = results["bare Flask GET /"]
    whole = {path: results[f"{layers.LAYERS[0].name}|{path}"] for path in LAYERED_ROUTES}
    print(f"bare Flask GET /: {bare:.1f} {unit}; per route, {unit} per request (x bare Flask):")
    print("| layer | " + " | ".join(f"GET {path}" for path in LAYERED_ROUTES) + " |")
    print("| --- |" + " ---: |" * len(LAYERED_ROUTES))
    cells = [f"{whole[path]:.1f} ({whole[path] / bare:.2f} x)" for path in LAYERED_ROUTES]
    print(f"| whole app | {' | '.join(cells)} |")
    for layer in layers.LAYERS[1:]:
        if f"{layer.name}|{LAYERED_ROUTES[0]}" not in results:
            continue  # counted without the copies (`bench.layers --whole`)
        costs = [whole[path] - results[f"{layer.name}|{path}"] for path in LAYERED_ROUTES]
        print(f"| {layer.name} | {' | '.join(f'{cost:.1f}' for cost in costs)} |")


def measure(all_scenarios: list[Scenario], requests: int, rounds: int) -> dict[str, float]:
    """Return each scenario's median microseconds per request over the rounds."""
    samples: dict[str, list[float]] = {scenario.name: [] for scenario in all_scenarios}
    for scenario in all_scenarios:
        time_round(scenario, max(1, requests // 10))  # warm caches and lazy imports
    for round_number in range(rounds):
        # Alternate the order, so no scenario always runs first after a pause.
        order = all_scenarios if round_number % 2 == 0 else all_scenarios[::-1]
        for scenario in order:
            samples[scenario.name].append(time_round(scenario, requests))
    return {name: statistics.median(values) for name, values in samples.items()}


def count_lines(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is kept")
    parser.add_argument("--layers", action="store_true", help="price each layer (bench/layers.py)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="userauth-overhead-") as folder:
        log_path = Path(folder) / "stderr.log"
        real_stderr = sys.stderr
        # Line-buffered like stderr: one write per log line, as in production.
        with log_path.open("w", buffering=1) as log:
            sys.stderr = log
            try:
                build = layered_scenarios if options.layers else scenarios
                all_scenarios = build(Path(folder))
                lines_before = count_lines(log_path)
                results = measure(all_scenarios, options.requests, options.rounds)
            finally:
                sys.stderr = real_stderr
        # Every userauth scenario, each warmed then timed.
        ours = sum(1 for scenario in all_scenarios if scenario.name.startswith("userauth"))
        userauth_requests = ours * (
            max(1, options.requests // 10) + options.rounds * options.requests
        )
        logged = count_lines(log_path) - lines_before
    if options.layers:
        print(f"{options.rounds} rounds of {options.requests} requests, median per request:")
        print_layers(results)
        return
    bare = results["bare Flask GET /"]
    print(f"{options.rounds} rounds of {options.requests} requests, median per request:")
    for name, micros in results.items():
        print(f"  {name:<26} {micros:8.1f} µs  ({micros / bare:.2f} x bare Flask)")
    if logged != userauth_requests:
        print(f"access log: {logged} lines for {userauth_requests} requests", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
