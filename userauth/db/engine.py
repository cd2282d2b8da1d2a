"""Engines: SQLite and PostgreSQL connection set-up (no connection is opened here)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.pool import ConnectionPoolEntry

from userauth import sqlite
from userauth.db.outages import spoils_connection


def make_engine(
    url: str, *, echo: bool = False, sqlite_busy_timeout_ms: int = sqlite.BUSY_TIMEOUT_MS
) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys.

    SQLAlchemy connects lazily: creating the engine opens no connection.
    """
    # Bound parameters (hashes, digests) never reach a log line or an error message.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={
                "check_same_thread": False,
                "timeout": sqlite_busy_timeout_ms / 1000,
            },
        )
        configure = functools.partial(_configure_sqlite, busy_timeout_ms=sqlite_busy_timeout_ms)
        event.listen(engine, "connect", configure)
        event.listen(engine, "handle_error", _replace_spoiled_connection)
        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        # No pre-ping (a round trip per request): the session check retries once on a
        # dropped connection instead (SQLAlchemy's "optimistic" disconnect handling).
        pool_recycle=3600,
        pool_size=10,
        max_overflow=20,
        # A database host that drops packets must fail readiness, not hang it.
        connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {},
    )


def _replace_spoiled_connection(context: ExceptionContext) -> None:
    """Count an error that spoils its connection (outages.spoils_connection) as a disconnect."""
    if spoils_connection(context.original_exception):
        context.is_disconnect = True


def _configure_sqlite(
    dbapi_connection: Any, _record: ConnectionPoolEntry, *, busy_timeout_ms: int
) -> None:
    sqlite.configure(dbapi_connection, busy_timeout_ms)
