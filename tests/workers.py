"""The suite on several pytest-xdist workers: each worker's own databases, and tests that run
alone.

Each worker tests against a PostgreSQL database and a Redis database number of its own,
derived from TEST_DATABASE_URL and TEST_REDIS_URL: `test` becomes `test_gw0`, `test_gw1`
(created when missing), Redis database 5 becomes 5 and 6. Tests marked `alone` measure time
(ratios of medians, latency bounds): while one runs, no test runs on any other worker.
"""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, make_url, text

# Set by pytest-xdist in each worker process: gw0, gw1, ...
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_index() -> int | None:
    """Return this worker's number, or None when the suite runs in one process."""
    return int(WORKER.removeprefix("gw")) if WORKER else None


def postgres_url_of_this_worker(url: str) -> str:
    """Return the URL of this worker's own database next to `url`'s, creating it if needed."""
    if worker_index() is None:
        return url
    own = make_url(url)
    own = own.set(database=f"{own.database}_{WORKER}")
    _create_database(url, own.database or "")
    return own.render_as_string(hide_password=False)


@functools.cache
def _create_database(url: str, name: str) -> None:
    # Connected to the database the URL names, which exists: CREATE DATABASE runs outside a
    # transaction, hence autocommit.
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def redis_url_of_this_worker(url: str) -> str:
    """Return `url` with its database number moved up by this worker's number."""
    index = worker_index()
    if index is None:
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + index
    return urlunsplit(parts._replace(path=f"/{number}"))


class RunLock:
    """A lock shared by the workers: any number of tests at once, or one test `alone`.

    Two flock()ed files: `tests` is held shared by each running test and exclusively by a
    test that runs alone; `turnstile` is held by a test waiting to run alone, so that the
    other workers' next tests wait behind it instead of keeping it out for ever.
    """

    def __init__(self, directory: Path) -> None:
        self._turnstile: IO[bytes] = (directory / "turnstile").open("ab")
        self._tests: IO[bytes] = (directory / "tests").open("ab")

    @contextmanager
    def holding(self, *, alone: bool) -> Iterator[None]:
        """Hold the lock while a test runs: exclusively when it runs alone."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._tests, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._tests, fcntl.LOCK_UN)

    def close(self) -> None:
        self._turnstile.close()
        self._tests.close()
