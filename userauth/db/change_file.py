"""SQLite's session-change broadcast: a small counter file next to the database file.

Every process on the machine maps the same file; a unit of work that ended sessions adds one
to the counter of every change and to its user's counter, under an exclusive flock, after its
commit (and once before, so a process that cannot write the file fails before committing).
Reading a version is a load from shared memory (and a stat() every RECHECK_SECONDS): no
query, no lock.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from userauth.db.broadcast import BUCKETS, Broadcast, Version, bucket

logger = logging.getLogger("userauth.sessions")

_COUNTER = struct.Struct("=Q")  # native order: one aligned 8-byte word per counter
SIZE = _COUNTER.size * (1 + BUCKETS)
# How often a reader checks that the path still names the file it maps. A deleted or replaced
# file (writers then bump the new one) is noticed within this; a stat() per check would
# cost more than the rest of a cache hit.
RECHECK_SECONDS = 0.1


@dataclass(frozen=True)
class _Mapped:
    """One map of the file, with the identity it was made from and its epoch."""

    map: mmap.mmap
    identity: tuple[int, int]
    epoch: int


class ChangeFile(Broadcast):
    """A shared counter file, created on first use with the database file's owner only."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        # Replaced whole, never changed: a reader keeps the map it read, and an old map is
        # unmapped only when its last reader drops it (closing it under a reader fails it).
        self._mapped: _Mapped | None = None
        # Moves whenever the map is (re)made: a deleted or replaced file starts the cache empty.
        self._epochs = 0
        self._checked_at = float("-inf")

    def before_commit(self, connection: Connection, user_ids: set[int]) -> None:
        self._bump(user_ids)

    def after_commit(self, user_ids: set[int]) -> None:
        self._bump(user_ids)

    def version(self) -> Version | None:
        return self._read(0)

    def user_version(self, user_id: int) -> Version | None:
        return self._read(bucket(user_id))

    def close(self) -> None:
        with self._lock:
            self._mapped = None

    def _read(self, slot: int) -> Version | None:
        mapped = self._current()
        if mapped is None:
            return None
        (count,) = _COUNTER.unpack_from(mapped.map, slot * _COUNTER.size)
        return mapped.epoch, count

    def _current(self) -> _Mapped | None:
        """Return the map of the file now at the path, remapping if it was replaced."""
        now = time.monotonic()
        mapped = self._mapped
        if mapped is not None and now - self._checked_at < RECHECK_SECONDS:
            return mapped
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            status = None
        identity = None if status is None else (status.st_dev, status.st_ino)
        if mapped is not None and identity == mapped.identity:
            self._checked_at = now
            return mapped
        with self._lock:
            # Another thread may have mapped the file while this one waited.
            mapped = self._mapped
            if mapped is not None and identity == mapped.identity:
                return mapped
            try:
                return self._remap()
            except OSError as error:
                logger.warning("session cache off: cannot map %s (%s)", self._path, error)
                return None

    def _remap(self) -> _Mapped:
        fd = _open_sized(self._path)
        try:
            status = os.fstat(fd)
            fresh = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)
        self._epochs += 1
        self._mapped = _Mapped(fresh, (status.st_dev, status.st_ino), self._epochs)
        self._checked_at = time.monotonic()
        return self._mapped

    def _bump(self, user_ids: set[int]) -> None:
        """Add one to the every-change counter, then to each user's, for each user.

        The every-change counter moves first: a reader that sees it unchanged after reading
        a user's counter knows that user's counter was read before this change (see
        SessionCache.fill). The file is opened anew each time, so a replaced file is found.
        """
        if not user_ids:
            return
        fd = _open_sized(self._path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for user_id in sorted(user_ids):
                _add_one(fd, 0)
                _add_one(fd, bucket(user_id))
        finally:
            os.close(fd)  # releases the flock


def _open_sized(path: str) -> int:
    """Open the counter file, creating it (zeroed, owner-only) if needed; return the fd."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < SIZE:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size < SIZE:
                os.ftruncate(fd, SIZE)
            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        os.close(fd)
        raise
    return fd


def _add_one(fd: int, slot: int) -> None:
    offset = slot * _COUNTER.size
    (count,) = _COUNTER.unpack(os.pread(fd, _COUNTER.size, offset))
    os.pwrite(fd, _COUNTER.pack(count + 1), offset)
