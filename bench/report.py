"""The benchmark's output: the machine, the table of scenarios, and the targets as ratios."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.load import Figures


@dataclass(frozen=True)
class Row:
    """One scenario on one backend."""

    backend: str
    scenario: str
    figures: Figures
    rss_mb: float
    note: str = ""
    semantics: str = ""
    # "userauth", "baseline" or "peer": which rows the userauth-only targets (RSS) read.
    kind: str = "userauth"


@dataclass(frozen=True)
class Target:
    """One target: a measured ratio against its limit."""

    backend: str
    name: str
    measured: str
    ratio: float
    limit: float
    at_most: bool = False

    @property
    def passed(self) -> bool:
        return self.ratio <= self.limit if self.at_most else self.ratio >= self.limit


def machine(postgres_version: str | None) -> list[str]:
    """Describe the machine and software the run measured."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("flask", "granian", "sqlalchemy", "bcrypt")
    )
    return [
        f"machine: {cpu}, {len(os.sched_getaffinity(0))} usable cores, "
        f"{memory_kb / 1024 / 1024:.1f} GiB RAM, Linux {platform.release()}",
        f"software: Python {platform.python_version()}, {packages}, SQLite "
        f"{sqlite3.sqlite_version}, PostgreSQL {postgres_version or 'not measured'}, "
        f"{_wrk_version()}",
    ]


def postgres_version(url: str) -> str:
    """Return the server version of the PostgreSQL database at `url`."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def table(rows: list[Row]) -> list[str]:
    lines = [
        "| backend | scenario | requests/s | p50 ms | p99 ms | errors | peak RSS/worker MB "
        "| session semantics | notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        figures = row.figures
        lines.append(
            f"| {row.backend} | {row.scenario} | {figures.rps:,.1f} | {figures.p50_ms:.2f} | "
            f"{figures.p99_ms:.2f} | {figures.errors} | {row.rss_mb:.1f} | {row.semantics} "
            f"| {row.note} |"
        )
    return lines


def targets(results: list[Target]) -> list[str]:
    lines = [
        "| backend | target | measured | ratio | limit | result |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for target in results:
        limit = f"{'<=' if target.at_most else '>='} {target.limit:g}"
        outcome = "PASS" if target.passed else "FAIL"
        lines.append(
            f"| {target.backend} | {target.name} | {target.measured} | {target.ratio:.2f} | "
            f"{limit} | {outcome} |"
        )
    return lines


def _wrk_version() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        return "wrk missing"
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    words = (done.stdout + done.stderr).split()
    return " ".join(words[:2]) if words else "wrk"
