"""A test run's PostgreSQL databases: its own, made on the server named and dropped after.

Each test runs a small pytest run of this suite (a few PostgreSQL tests) in a process of its
own, against a database this test names, and looks at the server before and after.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, inspect, make_url, text

from tests.conftest import ROOT, need_service
from tests.run_databases import RunDatabases

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# A few of the suite's PostgreSQL tests: each makes tables in the database it is given.
SOME_POSTGRES_TESTS = ["tests/test_store_api.py", "-k", "postgres and creates_the_users_table"]


def server_url() -> str:
    return need_service("PostgreSQL", "TEST_DATABASE_URL")


@pytest.fixture
def bystander() -> Iterator[str]:
    """A database of someone else's on the test server, holding a table of theirs."""
    name = f"userauth_bystander_{uuid.uuid4().hex[:8]}"
    # Made and dropped by hand: it belongs to no run.
    made = RunDatabases(server_url(), name)
    url = made.url_of("")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE users (id integer PRIMARY KEY)"))
    engine.dispose()
    yield url
    assert made.drop_all() == [name]


def run_pytest(database_url: str, workers: str) -> subprocess.CompletedProcess[str]:
    """Run a few PostgreSQL tests in a pytest run of their own, on `database_url`'s server."""
    env = {
        name: value
        for name, value in os.environ.items()
        # This process's xdist worker and test: the run below has its own. No Redis either.
        if not name.startswith("PYTEST_") and name != "TEST_REDIS_URL"
    }
    env.update(CI="true", TEST_DATABASE_URL=database_url)
    pytest_options = ["-p", "no:cacheprovider", "-q", "-n", workers]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_options, *SOME_POSTGRES_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_name(output: str) -> str:
    """Return the name of the run's databases, from its closing `backends:` line."""
    found = re.search(
        r"PostgreSQL \(\d+ passed, in databases (userauth_test_[0-9a-f]{8})\*", output
    )
    assert found, output
    return found.group(1)


class TestARunsDatabases:
    def test_the_database_named_is_left_as_it_was_and_the_runs_own_are_dropped(
        self, bystander: str
    ) -> None:
        # In one process: before, such a run tested in the database named itself.
        finished = run_pytest(bystander, "0")

        assert finished.returncode == 0, finished.stdout + finished.stderr
        engine = create_engine(bystander)
        assert inspect(engine).get_table_names() == ["users"]
        engine.dispose()
        assert RunDatabases(server_url(), run_name(finished.stdout)).existing() == []

    def test_a_server_without_the_database_named_is_still_tested(self) -> None:
        missing = f"userauth_missing_{uuid.uuid4().hex[:8]}"
        url = make_url(server_url()).set(database=missing).render_as_string(hide_password=False)

        # On two xdist workers: each makes a database of its own, and the run drops both.
        finished = run_pytest(url, "2")

        assert finished.returncode == 0, finished.stdout + finished.stderr
        run = run_name(finished.stdout)  # its PostgreSQL tests passed, none skipped
        assert RunDatabases(server_url(), run).existing() == []
        assert RunDatabases(server_url(), missing).existing() == []
