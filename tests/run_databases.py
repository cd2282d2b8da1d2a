"""The PostgreSQL databases of one test run: made on the server TEST_DATABASE_URL names, under a
name no other run has, and dropped when the run ends.

A run is named `userauth_test_<8 hex digits>`; the suite in one process tests in the database of
that name, each pytest-xdist worker in `<run>_gw0`, `<run>_gw1`, … Each is created when the
process first needs it. The database TEST_DATABASE_URL names is only where the run connects to
create and drop its own (`postgres` when that one is missing): nothing in it is read or changed,
and no database outside the run's names is ever dropped.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

PREFIX = "userauth_test_"
# Where to connect when the database TEST_DATABASE_URL names does not exist: every PostgreSQL
# cluster has it (initdb makes it), and it is what createdb itself connects to.
MAINTENANCE_DATABASE = "postgres"
CONNECT_TIMEOUT_SECONDS = 5


def new_run_name() -> str:
    """Return a name for a new run's databases, unlike any other run's."""
    return f"{PREFIX}{secrets.token_hex(4)}"


class RunDatabases:
    """The databases of the run `run` on the PostgreSQL server of `server_url`."""

    def __init__(self, server_url: str, run: str) -> None:
        self.server_url = server_url
        self.run = run
        self._created: set[str] = set()

    def url_of(self, worker: str) -> str:
        """Return the URL of `worker`'s own database (the run's when ""), creating it once.

        Raises:
            OperationalError: the server does not answer, or refuses to create it.
        """
        name = f"{self.run}_{worker}" if worker else self.run
        if name not in self._created:
            with self._maintenance() as connection:
                # It may exist already: that of a crashed worker, which xdist replaced under
                # the same name. The name is the run's own, so it is this run's to reuse.
                exists = connection.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
            self._created.add(name)
        own = make_url(self.server_url).set(database=name)
        return own.render_as_string(hide_password=False)

    def existing(self) -> list[str]:
        """Return the names of this run's databases on the server, those of its workers too.

        Raises:
            OperationalError: the server does not answer.
        """
        with self._maintenance() as connection:
            return self._names(connection)

    def drop_all(self) -> list[str]:
        """Drop every database of this run, those of crashed workers too; return their names.

        Raises:
            OperationalError: the server does not answer.
        """
        with self._maintenance() as connection:
            names = self._names(connection)
            for name in names:
                # FORCE: a connection some test left open must not keep the database alive.
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()
        return names

    def _names(self, connection: Connection) -> list[str]:
        # Exactly the run's name, or it followed by "_": LIKE's own "_" is escaped.
        return list(
            connection.scalars(
                text(
                    "SELECT datname FROM pg_database"
                    " WHERE datname = :run OR datname LIKE :pattern ORDER BY datname"
                ),
                {"run": self.run, "pattern": self.run.replace("_", r"\_") + r"\_%"},
            )
        )

    @contextmanager
    def _maintenance(self) -> Iterator[Connection]:
        """Connect where CREATE and DROP DATABASE can run, outside a transaction."""
        named = make_url(self.server_url)
        candidates = [named]
        if named.database != MAINTENANCE_DATABASE:
            # A server that answers is not "absent" because the database it names is missing.
            candidates.append(named.set(database=MAINTENANCE_DATABASE))
        failure: OperationalError | None = None
        for url in candidates:
            engine = create_engine(
                url,
                isolation_level="AUTOCOMMIT",
                connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            )
            try:
                connection = engine.connect()
            except OperationalError as error:
                engine.dispose()
                failure = failure or error
                continue
            try:
                yield connection
            finally:
                connection.close()
                engine.dispose()
            return
        assert failure is not None  # there is at least one candidate
        raise failure
