"""The suite on several pytest-xdist workers: which worker this is, and tests that run alone.

Each worker tests in a PostgreSQL database of its own, `<run>_gw0`, `<run>_gw1`, …
(tests/run_databases.py); on Redis, every test keeps to keys under a prefix of its own
(conftest's `redis_key_prefix`), so the workers share TEST_REDIS_URL's database number. Tests
marked `alone` measure time (ratios of medians, latency bounds): while one runs, no test runs
on any other worker.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# Set by pytest-xdist in each worker process: gw0, gw1, ...
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


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
