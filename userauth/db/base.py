"""The store's shared plumbing: opening the database, sessions, transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Row, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable

from userauth import migrations
from userauth.db.engine import make_engine
from userauth.models import DeviceSession, User


class Store:
    """What every part of the store shares: the engine, sessions and transactions."""

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        if url is None:
            # The contract's DB() takes no arguments: then, and only then, it reads settings.
            from userauth.settings import Settings

            settings = Settings.from_env()
            url, echo = settings.database_url, settings.sql_echo
        self._engine = make_engine(url, echo=echo)
        # The contract's DB() creates what is missing and drops nothing: an empty database
        # gets the schema, an earlier one is upgraded (migrations only add). `userauth serve`
        # checks before it gets here and refuses a database that is behind.
        migrations.ensure_current(self._engine, auto_migrate=True)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # Single reads need no transaction: no BEGIN and ROLLBACK round trips around them.
        # (pysqlite begins no transaction for a SELECT, and switching its isolation level
        # costs a PRAGMA each way, so SQLite reads use the engine as it is.)
        self._reader = (
            self._engine
            if self._engine.dialect.name == "sqlite"
            else self._engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._local = threading.local()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (migrations and health checks use it)."""
        return self._engine

    @property
    def _session(self) -> Session:
        """The SQLAlchemy session of the calling thread (memoized, never shared)."""
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._sessions()
            self._local.session = session
        return session

    def _read_one(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """Run a single read in autocommit mode; retry once if the connection had dropped."""
        for attempt in range(2):
            try:
                with self._reader.connect() as connection:
                    return connection.execute(statement, params).first()
            except DBAPIError as error:
                if attempt or not error.connection_invalidated:
                    raise
        return None

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()


def end_sessions(session: Session, user_id: int, *, keep: int | None) -> None:
    statement = delete(DeviceSession).where(DeviceSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(DeviceSession.id != keep)
    session.execute(statement)
    record_newest_session(session, user_id)


def record_newest_session(session: Session, user_id: int) -> None:
    """Point users.session_id at the newest remaining session (None when none is left)."""
    newest = session.scalars(
        select(DeviceSession.id_digest)
        .where(DeviceSession.user_id == user_id)
        .order_by(DeviceSession.created_at.desc(), DeviceSession.id.desc())
        .limit(1)
    ).first()
    session.execute(update(User).where(User.id == user_id).values(session_id=newest))
