"""The per-process cache of live sessions: session checks without a database read.

Entries are keyed on the session id's digest, never the id, and hold only positive answers:
a live session and its enabled user, with the version of that user's sessions read before the
database was. A hit needs the broadcast (db/broadcast.py) to vouch for the entry now: the
channel healthy and the user's version unchanged. The entry must also be live by the same
session policy; anything the cache would call dead goes to the database, the authority.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from userauth.db import LiveSession
from userauth.db.broadcast import SessionChanges, Version


class Liveness(Protocol):
    """The session policy's liveness rule, as the cache applies it (sessions.SessionPolicy)."""

    def is_live(self, last_used: datetime, expires_at: datetime, now: datetime) -> bool:
        """Tell whether a session last used at `last_used`, expiring at `expires_at`, is live."""


@dataclass(frozen=True)
class _Entry:
    live: LiveSession
    version: Version


class SessionCache:
    """A bounded LRU of live sessions by digest, trusted only while the broadcast vouches."""

    def __init__(self, changes: SessionChanges, policy: Liveness, capacity: int) -> None:
        self._changes = changes
        self._policy = policy
        self._capacity = capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, now: datetime) -> LiveSession | None:
        """Return the cached live session with this digest if it may be served now, else None.

        None means "ask the database", never "no such session".
        """
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            live = entry.live
            if self._changes.user_version(live.user_id) != entry.version:
                del self._entries[digest]
                return None
            if not self._policy.is_live(live.last_used_at, live.expires_at, now):
                # Possibly only this process's stale view of the idle clock: the database
                # decides, and a live answer comes back into the cache.
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return live

    def version(self) -> Version | None:
        """Return the broadcast's version of every user, to read before the database is."""
        return self._changes.version()

    def fill(self, digest: str, live: LiveSession, before: Version | None) -> None:
        """Cache a live session the database returned, if nothing changed since `before`.

        The user's version is read after the database was and before the every-change
        version is read again; a writer moves the every-change counter first. So an
        unchanged every-change version proves the user's version predates any change that
        committed after the database read began: an invalidation that arrived meanwhile
        keeps the stale answer out, and one that arrives later finds its version outdated.
        """
        if before is None:
            return
        version = self._changes.user_version(live.user_id)
        if version is None or self._changes.version() != before:
            return
        # Read twice: a counter being written as it is read must not leave a wrong version.
        if self._changes.user_version(live.user_id) != version:
            return
        with self._lock:
            self._entries[digest] = _Entry(live, version)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def touched(self, digest: str, now: datetime) -> None:
        """Record that this process moved the session's idle clock to `now`."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries[digest] = replace(entry, live=replace(entry.live, last_used_at=now))
