"""Session-change broadcast: tell every process whose sessions changed, and let it ask.

A unit of work that ends sessions, or changes what a session check reads (the user's email,
password hash or newest session), calls `work.announce(user_id)` inside its transaction.
The store's transaction hands the announcement to the database's broadcast: PostgreSQL
`NOTIFY` in the same transaction (delivered on commit), or on SQLite a shared counter file
bumped after commit (db/change_file.py). Every process reads versions from it: a number that
moves whenever a user's sessions may have changed, and None while the channel is not known to
be healthy. The session cache (userauth/session_cache.py) serves only what a version vouches for.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

# Users are spread over this many counters: a change to one user moves the version of every
# user sharing its counter, which costs those users one database read, never a stale answer.
BUCKETS = 4096

# (epoch, counter): the epoch moves when the channel is lost and found again, so nothing
# read before a gap in the broadcast can match a version read after it.
Version = tuple[int, int]


def bucket(user_id: int) -> int:
    """Return the counter that stands for this user (1 to BUCKETS; 0 counts every change)."""
    return 1 + user_id % BUCKETS


class SessionChanges(Protocol):
    """What the session cache asks of the broadcast."""

    def version(self) -> Version | None:
        """Return the version of every user's sessions, or None if the channel is down."""

    def user_version(self, user_id: int) -> Version | None:
        """Return the version of this user's sessions, or None if the channel is down."""


class Broadcast(SessionChanges):
    """No broadcast (an in-memory database): announcements go nowhere, versions are None."""

    def before_commit(self, connection: Connection, user_ids: set[int]) -> None:
        """Send what must travel inside the transaction (PostgreSQL's NOTIFY)."""

    def after_commit(self, user_ids: set[int]) -> None:
        """Send what must follow the commit (SQLite's counter file)."""

    def version(self) -> Version | None:
        return None

    def user_version(self, user_id: int) -> Version | None:
        return None

    def close(self) -> None:
        """Stop listening (a no-op where nothing listens)."""
