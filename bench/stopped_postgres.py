"""Time the answers of a route while its PostgreSQL is stopped, then restarted (issue 12).

Starts a PostgreSQL of its own (tests.test_outages.OwnPostgres: initdb and pg_ctl in a tmp
folder, as the postgres user when run as root), never the shared one.

    .venv/bin/python -m bench.stopped_postgres
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

from flask.testing import FlaskClient

from tests.conftest import GENEROUS_LIMITS, FakeClock, free_port
from tests.test_outages import OwnPostgres, build_client, log_in

REQUESTS = 200


def timed(client: FlaskClient, statuses: Counter[int]) -> list[float]:
    """Send GET /profile REQUESTS times; count the statuses, return each duration in ms."""
    durations = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        statuses[client.get("/profile").status_code] += 1
        durations.append((time.perf_counter() - start) * 1000)
    return durations


def main() -> None:
    """Print the medians up and down, and how many requests failed after the restart."""
    folder = Path(tempfile.mkdtemp(prefix="userauth-bench-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = OwnPostgres(folder, free_port())
    server.create()
    server.start()
    try:
        client, auth = build_client(server.url, FakeClock(), GENEROUS_LIMITS)
        log_in(client, "ann@example.com")
        up, down = Counter[int](), Counter[int]()
        running = statistics.median(timed(client, up))
        server.stop()
        stopped = timed(client, down)
        server.start()
        failed_after = 0
        while client.get("/profile").status_code != 200:
            failed_after += 1
        auth.db.close()
    finally:
        with suppress(subprocess.CalledProcessError):  # already stopped by a failure above
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"GET /profile x{REQUESTS}: running {dict(up)} median {running:.2f} ms; stopped "
        f"{dict(down)} median {statistics.median(stopped):.2f} ms, max {max(stopped):.2f} ms; "
        f"after restart, {failed_after} request(s) failed before a 200"
    )


if __name__ == "__main__":
    main()
