"""The store's shared plumbing: opening the database, sessions, transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, Select, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from userauth import migrations
from userauth.db.engine import make_engine
from userauth.db.reads import PreparedRead, read_one
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

    def _prepare(self, statement: Select[*tuple[Any, ...]]) -> PreparedRead:
        return PreparedRead(statement, self._engine.dialect)

    def _read_one(self, read: PreparedRead, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Run a prepared single-row read outside any transaction."""
        return read_one(self._engine, read, values)

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
