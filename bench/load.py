"""Load: one bounded wrk run of a Lua scenario, and its figures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
# wrk shares the server's 2 cores: one thread (it needs well under one core at these rates)
# and a few connections per server thread keep it from starving the server it measures.
WRK_THREADS = 1
# A request slower than this is a timeout error, not a latency sample.
REQUEST_TIMEOUT_S = 10


class LoadError(RuntimeError):
    """wrk failed or printed no figures."""


@dataclass
class Figures:
    """What one or more wrk runs measured; latencies in milliseconds."""

    requests: int
    seconds: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    status_errors: int
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def steady_rps(self, connections: int) -> float:
        """Return the throughput by Little's law: connections / mean latency.

        wrk keeps every connection busy (a closed loop), so this is the steady-state rate,
        free of the ramp at the start and the requests cut off at the end, which a run of
        slow requests (bcrypt) would otherwise lose several percent to.
        """
        return connections / (self.mean_ms / 1000) if self.mean_ms else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors

    def count_rate(self, name: str) -> float:
        return self.counters.get(name, 0) / self.seconds if self.seconds else 0.0

    @staticmethod
    def merge(runs: Sequence[Figures]) -> Figures:
        """Combine runs of one scenario: totals, and request-weighted mean percentiles."""
        requests = sum(run.requests for run in runs)
        weight = requests or 1
        counters: dict[str, int] = {}
        for run in runs:
            for name, count in run.counters.items():
                counters[name] = counters.get(name, 0) + count
        return Figures(
            requests=requests,
            seconds=sum(run.seconds for run in runs),
            mean_ms=sum(run.mean_ms * run.requests for run in runs) / weight,
            p50_ms=sum(run.p50_ms * run.requests for run in runs) / weight,
            p99_ms=sum(run.p99_ms * run.requests for run in runs) / weight,
            socket_errors=sum(run.socket_errors for run in runs),
            status_errors=sum(run.status_errors for run in runs),
            counters=counters,
        )


def script(scenario: str, workdir: Path) -> Path:
    """Write the runnable script of a scenario: common.lua followed by the scenario's own."""
    path = workdir / f"{scenario}.lua"
    if not path.exists():
        common = (LUA / "common.lua").read_text()
        path.write_text(common + "\n" + (LUA / f"{scenario}.lua").read_text())
    return path


def run_wrk(
    url: str, lua: Path, seconds: int, connections: int, args: Sequence[str] = ()
) -> Figures:
    """Drive `url` with wrk for `seconds`, using the Lua script and its arguments.

    Raises:
        LoadError: wrk failed, hung past its bound, or printed no figures.
    """
    command = [
        "wrk",
        f"--threads={WRK_THREADS}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        f"--script={lua}",
        url,
        "--",
        *args,
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT_S + 30
        )
    except subprocess.TimeoutExpired:
        raise LoadError(f"wrk did not finish: {' '.join(command)}") from None
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return _figures(json.loads(line.removeprefix("BENCH_JSON ")))
    raise LoadError(f"wrk exited {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def _figures(raw: dict[str, object]) -> Figures:
    def number(name: str) -> int:
        value = raw[name]
        assert isinstance(value, int)
        return value

    counters = raw.get("counters") or {}
    assert isinstance(counters, dict)
    return Figures(
        requests=number("requests"),
        seconds=number("duration_us") / 1e6,
        mean_ms=number("mean_us") / 1000,
        p50_ms=number("p50_us") / 1000,
        p99_ms=number("p99_us") / 1000,
        socket_errors=sum(number(kind) for kind in ("connect", "read", "write", "timeout")),
        status_errors=number("status"),
        counters={str(name): int(count) for name, count in counters.items()},
    )
