"""SQLite connection set-up shared by the application's engine and the migrations'."""

from __future__ import annotations

import sqlite3

# How long a SQLite writer waits for the lock before giving up, in milliseconds.
BUSY_TIMEOUT_MS = 30_000


def configure(connection: sqlite3.Connection, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Set up an application connection: WAL, a busy timeout, foreign keys."""
    cursor = connection.cursor()
    # WAL lets readers go on while one writer commits; the busy timeout makes writers queue
    # instead of failing with "database is locked" under a multi-threaded server; past it,
    # the request answers 503 (userauth/db/outages.py).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def fold_case_like_python(connection: sqlite3.Connection) -> None:
    """Make lower() fold Unicode like Python (SQLite's folds ASCII only), for migrations.

    Revisions 0002 to 0004 index lower(email): a connection that writes that index must fold
    alike, or "Ünal@x.io" and "ünal@x.io" become two accounts. From 0005 on, nothing calls
    lower(): accounts are found by users.email_key, computed in Python (userauth.emails).
    """
    connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()
