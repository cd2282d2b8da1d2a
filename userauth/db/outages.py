"""Outages: which database errors mean "unavailable now, retry later" rather than a bug.

The one place that reads SQLAlchemy's and the drivers' errors (psycopg's SQLSTATE, sqlite3's
result codes) to tell an outage (the server is down, the connection dropped, the disk is
full, the file is read-only, a lock outlived the busy timeout) from a genuine bug, which
must stay a 500 with its traceback. web/errors.py answers an outage 503, /readyz reports it.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

if TYPE_CHECKING:
    import psycopg

# sqlite3's primary result codes (the low byte of an extended code) that an operator fixes
# or time heals; SQLITE_ERROR, SQLITE_CONSTRAINT, SQLITE_CORRUPT... stay bugs (500).
_SQLITE_CAUSES = {
    sqlite3.SQLITE_BUSY: "locked past the busy timeout",
    sqlite3.SQLITE_LOCKED: "locked past the busy timeout",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_IOERR: "I/O error",
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_CANTOPEN: "cannot open the database file",
    sqlite3.SQLITE_PROTOCOL: "locked past the busy timeout",
}
# Of those, the codes after which a connection stays unusable once the outage is over: one
# that opened a read-only (or missing) file stays read-only when the file is writable again.
_SQLITE_SPOILED = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR}
# PostgreSQL SQLSTATEs (Appendix A of its manual), exact codes first, then classes.
_SQLSTATE_CAUSES = {
    "25006": "read-only",
    "53100": "disk full",
    "53200": "out of memory",
    "53300": "too many connections",
    "55P03": "locked past the lock timeout",
    "57P01": "server shutting down",
    "57P02": "server crashed",
    "57P03": "server starting up",
    "58030": "I/O error",
}
_SQLSTATE_CLASS_CAUSES = {
    "08": "connection lost",
    "53": "out of resources",
    "58": "system error",
}


def outage_cause(error: BaseException) -> str | None:
    """Name the outage behind a database error in a few words, or None for anything else.

    The name is fixed text: the driver's message can quote the URL (with its password) or a
    bound value, so it never reaches an answer or a log line.
    """
    if isinstance(error, PoolTimeoutError):
        return "no free connection in the pool"
    if not isinstance(error, DBAPIError):
        return None
    original = error.orig
    if isinstance(original, sqlite3.Error):
        # Errors sqlite3 raises itself (a closed connection) carry no result code.
        code = getattr(original, "sqlite_errorcode", None)
        return None if code is None else _SQLITE_CAUSES.get(code & 0xFF)
    # Only a PostgreSQL engine imports psycopg (and libpq): a process serving SQLite never
    # pays its memory, and an error cannot be psycopg's while psycopg is not imported.
    driver = sys.modules.get("psycopg")
    if driver is not None and isinstance(original, driver.Error):
        return _postgres_cause(original, invalidated=error.connection_invalidated)
    return "connection lost" if error.connection_invalidated else None


def _postgres_cause(error: psycopg.Error, *, invalidated: bool) -> str | None:
    state = error.sqlstate
    if state is None:
        # No answer from a server at all: refused, unreachable, timed out, or dropped.
        if invalidated:
            return "connection lost"
        driver = sys.modules["psycopg"]
        return "cannot reach the server" if isinstance(error, driver.OperationalError) else None
    return _SQLSTATE_CAUSES.get(state) or _SQLSTATE_CLASS_CAUSES.get(state[:2])


def spoils_connection(error: BaseException) -> bool:
    """Tell whether a driver error leaves its connection unusable after the outage ends.

    The engine counts such an error as a disconnect, so the pool replaces the connection:
    without that, a SQLite connection opened on a read-only file would fail every write
    after the file is writable again, until a restart.
    """
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _SQLITE_SPOILED
