"""The database's settings: which database, how it is opened, whether serve may upgrade it."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from userauth.settings.reader import EnvironmentReader, SettingsError

# (backend, driver) pairs userauth is built and tested on.
SUPPORTED_DATABASES = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})
# The service's own file: a.db is the design's, and every design `DB()` empties it.
DEFAULT_DATABASE_URL = "sqlite:///userauth.db"
# Where the service kept its accounts before the design and the service were split.
OLD_DEFAULT_DATABASE_FILE = "a.db"


@dataclass(frozen=True)
class DatabaseSettings:
    """The database: its URL (DATABASE_URL), SQL logging, SQLite's lock wait, migrations."""

    url: str = DEFAULT_DATABASE_URL
    # DATABASE_URL is unset and the service's database was found at the old default, a.db.
    at_old_default: bool = False
    sql_echo: bool = False
    # How long a SQLite write waits for another writer's lock before answering 503.
    sqlite_busy_timeout_ms: int = 30_000
    # Let `userauth serve` upgrade a database that is behind instead of refusing to start.
    auto_migrate: bool = False

    @classmethod
    def read(cls, reader: EnvironmentReader) -> DatabaseSettings:
        """Read DATABASE_URL, USERAUTH_SQL_ECHO, _SQLITE_BUSY_TIMEOUT_MS and _AUTO_MIGRATE.

        Raises:
            SettingsError: a value of the wrong kind or range, or a database userauth does
                not run on.
        """
        url = reader.optional("DATABASE_URL")
        at_old_default = url is None and _service_database_at_old_default()
        if url is None:
            url = f"sqlite:///{OLD_DEFAULT_DATABASE_FILE}" if at_old_default else None
        return cls(
            url=_database_url(url or DEFAULT_DATABASE_URL),
            at_old_default=at_old_default,
            sql_echo=reader.flag("USERAUTH_SQL_ECHO", default=False),
            sqlite_busy_timeout_ms=reader.integer(
                "USERAUTH_SQLITE_BUSY_TIMEOUT_MS", cls.sqlite_busy_timeout_ms, minimum=0
            ),
            auto_migrate=reader.flag("USERAUTH_AUTO_MIGRATE", default=False),
        )


def _service_database_at_old_default() -> bool:
    """Tell whether a.db, and no userauth.db, is here and holds the service's tables."""
    if os.path.exists(DEFAULT_DATABASE_URL.removeprefix("sqlite:///")):
        return False
    if not os.path.isfile(OLD_DEFAULT_DATABASE_FILE):
        return False
    uri = f"file:{OLD_DEFAULT_DATABASE_FILE}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return found is not None


def shown_database_url(url: str) -> str:
    """Return DATABASE_URL as start-up lines and commands show it: no password, and a SQLite
    file by its absolute path (a relative one is in the working folder, which differs
    between the server and a command run by hand)."""
    parsed = make_url(url)
    name = parsed.database or ""
    file = name not in ("", ":memory:") and not name.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and file:
        parsed = parsed.set(database=os.path.abspath(name))
    return parsed.render_as_string(hide_password=True)


def _database_url(url: str) -> str:
    """Return DATABASE_URL if it names a database userauth runs on (SQLite, PostgreSQL).

    Raises:
        SettingsError: the URL cannot be parsed or names another database; the message
            never repeats the URL, which may hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            "DATABASE_URL must be a URL like sqlite:///userauth.db or "
            "postgresql+psycopg://user@host/db; the one given cannot be parsed"
        ) from None
    if (parsed.get_backend_name(), parsed.get_driver_name()) not in SUPPORTED_DATABASES:
        raise SettingsError(
            "DATABASE_URL must name SQLite (sqlite:///file.db) or PostgreSQL through psycopg "
            f"(postgresql+psycopg://user@host/db), not {parsed.drivername}"
        )
    return url
