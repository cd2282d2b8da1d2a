"""Schema migrations: Alembic, shipped in the package and configured in code (no alembic.ini).

Revisions live in `versions/`: 0001 is the original design's `users` table, 0002 userauth's
first schema, 0003 the one table of one-time secrets, 0004 the mail outbox and the
email on audit events, 0005 the email keys that every look-up compares (userauth.emails),
0006 the random public ids that name sessions to their users, 0007 the janitor's lease and
the expiry indexes it deletes by.
Nothing migrates implicitly: `userauth
serve` and the admin commands call `ensure_current()` (an empty database gets the schema),
`userauth db upgrade` calls `upgrade()`; building a DB or an app touches no schema.

Alembic is imported only by the functions that need it: a database already at the head is
recognised from its version table (is_current), and `userauth serve` creates or upgrades
one in a child process (migrations.child), so the server's master process, and every
worker it forks, never holds Alembic (with Mako and Pygments, about 13 MB per worker).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.pool import ConnectionPoolEntry

from userauth import sqlite
from userauth.models import metadata

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SCRIPT_LOCATION = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
# Databases that userauth created before it had migrations hold exactly 0002's tables.
UNVERSIONED_REVISION = "0002"
TABLES_ADDED_BY_0002 = frozenset({"sessions", "password_resets", "audit_events", "disabled_users"})
# Key of the PostgreSQL advisory lock that keeps two starting servers from both creating
# the schema of a fresh database.
SCHEMA_LOCK_KEY = 0x75736572


class MigrationError(RuntimeError):
    """The database cannot be brought to, or used at, the current schema; says what to do."""


class DuplicateEmailsError(MigrationError):
    """Accounts share an email under a rule of sameness, so it cannot be made unique."""

    def __init__(
        self, groups: list[list[str]], limit: int, rule: str = "when letter case is ignored"
    ) -> None:
        named = "; ".join(", ".join(group) for group in groups[:limit])
        more = f"; and {len(groups) - limit} more" if len(groups) > limit else ""
        super().__init__(
            f"cannot make emails unique: {len(groups)} email(s) belong to more than one "
            f"account {rule}: {named}{more}. Keep one account per email "
            "(delete or rename the others in SQL), then run `userauth db upgrade` again."
        )
        self.groups = groups


class SchemaBehindError(MigrationError):
    """The database is at an earlier revision than this version of userauth needs."""


class UnknownSchemaError(MigrationError):
    """The database is at a revision this version of userauth does not know."""


def config(connection: Connection | None = None) -> Config:
    """Return an Alembic configuration for the shipped scripts, migrating `connection`."""
    from alembic.config import Config

    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    alembic_config.set_main_option("path_separator", "os")
    if connection is not None:
        alembic_config.attributes["connection"] = connection
    return alembic_config


@functools.cache
def _scripts() -> ScriptDirectory:
    # Loading the revision files costs a few milliseconds: once per process is enough.
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config())


def head_revision() -> str:
    """Return the revision of userauth.models' schema."""
    head = _scripts().get_current_head()
    if head is None:
        raise MigrationError("userauth ships no migration scripts")
    return head


def current_revision(engine: Engine | Connection) -> str | None:
    """Return the database's revision, or None when it has none (empty or unversioned)."""
    from alembic.runtime.migration import MigrationContext

    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_up_to_date(engine: Engine | Connection) -> bool:
    """Tell whether the database is at the head revision."""
    return current_revision(engine) == head_revision()


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database to `revision` (the head by default), keeping every row.

    A database that userauth or the original design made before migrations existed is first
    stamped with the revision its tables match. On PostgreSQL the whole upgrade is one
    transaction.

    Raises:
        DuplicateEmailsError: two accounts share an email in different letter case (0002),
            or under the email key (0005).
        MigrationError: an email is too long once case-folded (0005).
        UnknownSchemaError: the tables match no revision.
    """
    from alembic import command

    with _migration_connection(target) as connection:
        _adopt_unversioned(connection)
        command.upgrade(config(connection), revision)


def downgrade(target: Engine | str, revision: str) -> None:
    """Take the database back to `revision` ("base" drops every table)."""
    from alembic import command

    with _migration_connection(target) as connection:
        command.downgrade(config(connection), revision)


def create_schema(engine: Engine) -> bool:
    """Create the head schema in a database that holds none of userauth's tables.

    Return whether it did; a database that has any of them is left untouched.
    """
    from alembic.runtime.migration import MigrationContext

    ours = set(metadata.tables) | {VERSION_TABLE}
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
            )
        if ours & set(inspect(connection).get_table_names()):
            return False
        # create_all and a stamp cost one round of DDL; replaying every revision costs more.
        metadata.create_all(connection)
        MigrationContext.configure(connection).stamp(_scripts(), "head")
    return True


def ensure_current(target: Engine | str, *, auto_migrate: bool) -> None:
    """Make sure the database is at the head before serving it: create or upgrade it.

    Raises:
        SchemaBehindError: it is behind and `auto_migrate` is false.
        UnknownSchemaError: it is at a revision this version does not know.
    """
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        if is_current(engine):
            return  # every start but the first after an upgrade: no Alembic at all
        if create_schema(engine):
            return
        current, head = current_revision(engine), head_revision()
        if current == head:
            return
        if current is not None and _scripts().get_revision(current) is None:
            raise UnknownSchemaError(
                f"The database is at revision {current}, which this version of userauth "
                "does not know: run the userauth version that migrated it."
            )
        if not auto_migrate:
            where = "has no schema revision" if current is None else f"is at revision {current}"
            raise SchemaBehindError(
                f"The database {where} but userauth needs {head}: run `userauth db upgrade` "
                "first (or set USERAUTH_AUTO_MIGRATE=true)."
            )
        upgrade(engine)
    finally:
        if isinstance(target, str):
            engine.dispose()


def is_current(target: Engine | str) -> bool:
    """Return whether the database is at the head, read without Alembic.

    Two queries: whether the version table exists, then its rows.

    False for an empty database, one behind, or one at a revision this version does not
    know: ensure_current() tells those apart (with Alembic).
    """
    engine = create_engine(target) if isinstance(target, str) else target
    try:
        return _recorded_revisions(engine) == [_newest_script()]
    finally:
        if isinstance(target, str):
            engine.dispose()


def _newest_script() -> str:
    """Return the revision of the newest script in versions/, named by its file's prefix.

    Scripts are named `<revision>_<what>.py`, revisions being four-digit numbers that each
    revise the one before (a test holds them to it), so the newest name is Alembic's head.
    """
    newest = max(path.name for path in (SCRIPT_LOCATION / "versions").glob("[0-9]*_*.py"))
    return newest.partition("_")[0]


def _recorded_revisions(engine: Engine) -> list[str]:
    """Return the revisions recorded in the database's version table, read without Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return []
        return list(connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))  # noqa: S608


@contextmanager
def _migration_connection(target: Engine | str) -> Iterator[Connection]:
    """Open a connection on an engine of its own, in one transaction.

    Not the application's engine: that one turns SQLite's foreign keys on, and batch mode,
    which rebuilds a SQLite table by dropping it, would then cascade into the tables that
    point at it.
    """
    engine = create_engine(target if isinstance(target, str) else target.url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _fold_case_like_python)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def _fold_case_like_python(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    sqlite.fold_case_like_python(dbapi_connection)


def _adopt_unversioned(connection: Connection) -> None:
    """Stamp a database made before migrations existed with the revision its tables match."""
    from alembic.runtime.migration import MigrationContext

    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or "users" not in tables:
        return
    added = TABLES_ADDED_BY_0002 & tables
    if not added:
        revision = "0001"
    elif added == TABLES_ADDED_BY_0002:
        revision = UNVERSIONED_REVISION
    else:
        raise UnknownSchemaError(
            "The database has some of userauth's tables but no schema revision "
            f"(missing: {', '.join(sorted(TABLES_ADDED_BY_0002 - added))}): restore it from "
            "a backup, or create the missing tables by hand, then run `userauth db upgrade`."
        )
    MigrationContext.configure(connection).stamp(_scripts(), revision)
