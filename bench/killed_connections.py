"""Count the answers of requests made while the server kills the app's connections (issue 12).

Every 10th request, pg_terminate_backend ends every connection of the app (found by its
application_name only: no other session of the server is touched); the requests mix session
reads, password changes and registrations. Before the rerun of a unit of work on a killed
connection, one request per kill failed.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.killed_connections 2024

It runs in a database of its own on that server (tests/run_databases.py), dropped at the end.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable

from werkzeug.test import TestResponse

from tests.conftest import GENEROUS_LIMITS, FakeClock
from tests.run_databases import RunDatabases, new_run_name
from tests.test_outages import PASSWORD, PASSWORDS, KilledConnections, build_client, log_in

KILL_EVERY = 10


def main(requests: int, database_url: str) -> None:
    """Print how many requests got each status while the app's connections were killed."""
    killer = KilledConnections(database_url)
    client, auth = build_client(killer.app_url, FakeClock(), GENEROUS_LIMITS)
    killer.watch(auth.db.engine)
    log_in(client, "ann@example.com")
    asks: list[Callable[[int], TestResponse]] = [
        lambda _: client.get("/profile"),
        lambda _: client.get("/sessions"),
        lambda number: client.put("/profile/password", json=PASSWORDS[(number // 4) % 2]),
        lambda number: client.post(
            "/users", json={"email": f"u{number}@example.com", "password": PASSWORD}
        ),
    ]
    statuses: Counter[int] = Counter()
    killed = 0
    for number in range(requests):
        if number % KILL_EVERY == 0:
            killed += killer.kill()
        statuses[asks[number % len(asks)](number).status_code] += 1
    auth.db.close()
    killer.close()
    print(
        f"requests={requests} backends_killed={killed} disconnects_seen={killer.disconnects} "
        f"statuses={dict(sorted(statuses.items()))}"
    )


if __name__ == "__main__":
    databases = RunDatabases(os.environ["TEST_DATABASE_URL"], new_run_name())
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2024, databases.url_of(""))
    finally:
        databases.drop_all()
