"""Measure what counting a request costs: values in memory vs prometheus_client's files.

`python -m bench.metrics_cost [--calls N] [--rounds R]` times Metrics.observe, the one call
that counts each request (its counter and latency histogram), and Metrics.exposition, a
scrape, in child processes of two kinds: "memory", an app counting alone, as before
issue 14; "multiprocess", with PROMETHEUS_MULTIPROC_DIR set before prometheus_client is
imported, as in every worker of `userauth serve`. The kinds alternate round by round, so
the noise of a shared machine falls on both, and time is the process's CPU time, which
another process's turn on the core does not inflate. It prints each kind's median per call
and the difference: what multiprocess mode adds to every request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("memory", "multiprocess")
# Enough routes and statuses to look like a server's label set, not one hot child.
ROUTES = [("/profile", 200), ("/profile", 403), ("/auth/verify", 200), ("/healthz", 200)]


def child(calls: int, folder: Path) -> dict[str, float]:
    """Time observe and exposition in this process; return nanoseconds per call."""
    from userauth.auth import Auth
    from userauth.settings import DatabaseSettings, ServerSettings, Settings
    from userauth.web.metrics import Metrics
    from userauth.web.observability import Dependencies

    shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{folder / 'bench.db'}"),
        server=ServerSettings(metrics_dir=shared_dir),
    )
    metrics = Metrics(Dependencies(settings, Auth.from_settings(settings)), shared_dir)
    for route, status in ROUTES:  # children made once, as a running worker has them
        metrics.observe(route, "GET", status, 0.001)
    started = time.process_time_ns()
    for number in range(calls):
        route, status = ROUTES[number % len(ROUTES)]
        metrics.observe(route, "GET", status, 0.0012)
    observe = (time.process_time_ns() - started) / calls
    scrapes = max(1, calls // 1000)
    started = time.process_time_ns()
    for _ in range(scrapes):
        metrics.exposition()
    return {"observe": observe, "exposition": (time.process_time_ns() - started) / scrapes}


def run_child(kind: str, calls: int, folder: Path) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory(dir=folder) as shared:
        if kind == "multiprocess":
            env["PROMETHEUS_MULTIPROC_DIR"] = shared
        command = [sys.executable, "-m", "bench.metrics_cost", "--child", str(folder)]
        finished = subprocess.run(
            [*command, "--calls", str(calls)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(finished.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="observe calls per round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per kind; median kept")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child is not None:
        print(json.dumps(child(options.calls, options.child)))
        return
    samples: dict[str, dict[str, list[float]]] = {
        kind: {"observe": [], "exposition": []} for kind in KINDS
    }
    with tempfile.TemporaryDirectory(prefix="userauth-metrics-cost-") as folder:
        for round_number in range(options.rounds):
            order = KINDS if round_number % 2 == 0 else KINDS[::-1]
            for kind in order:
                for name, value in run_child(kind, options.calls, Path(folder)).items():
                    samples[kind][name].append(value)
    medians = {
        kind: {name: statistics.median(values) for name, values in by_name.items()}
        for kind, by_name in samples.items()
    }
    print(f"{options.rounds} rounds per kind, {options.calls} requests counted per round:")
    for kind in KINDS:
        observe, scrape = medians[kind]["observe"], medians[kind]["exposition"]
        print(f"  {kind:<13} {observe / 1000:6.2f} µs a request, {scrape / 1000:8.1f} µs a scrape")
    added = (medians["multiprocess"]["observe"] - medians["memory"]["observe"]) / 1000
    ratio = medians["multiprocess"]["observe"] / medians["memory"]["observe"]
    print(f"  multiprocess mode adds {added:.2f} µs per request ({ratio:.2f} x memory)")


if __name__ == "__main__":
    main()
