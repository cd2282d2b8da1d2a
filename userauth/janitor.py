"""The janitor: deletes, in small batches, the rows that have run their course.

Left alone, four tables only grow: sessions that expired or went idle, one-time secrets that
expired unspent (spending one deletes it), mail jobs nobody will send, and audit events
older than the retention (USERAUTH_AUDIT_RETENTION_DAYS). A served worker runs a janitor
thread every USERAUTH_JANITOR_INTERVAL_SECONDS; `userauth db prune` runs one pass by hand.
Every pass first takes the database's "janitor" lease (the `leases` table): of all the
servers and workers of a deployment, one prunes at a time, and one that dies mid-pass frees
it after LEASE. Each batch deletes at most USERAUTH_JANITOR_BATCH_SIZE rows in a transaction
of its own, so no lock is held for long.

The seam: a table whose rows expire is pruned by adding one entry to `standard_kinds`, a
`PrunableKind(name, delete_batch)` whose `delete_batch(now, limit)` deletes at most `limit`
rows dead at `now` in one short transaction and returns how many, e.g.
`PrunableKind("pending_logins", db.delete_expired_pending_logins)`. Nothing else changes:
`userauth db prune` prints the new kind, and the metric counts it under its name.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from userauth.clock import utcnow
from userauth.db import DB
from userauth.sessions import SessionPolicy

logger = logging.getLogger(__name__)

LEASE_NAME = "janitor"
# The lease is renewed after every batch; a holder that stopped renewing (killed) frees it
# after this, far longer than any batch takes.
LEASE = timedelta(minutes=5)
# The outbox gives a job up within about 11 hours (12 attempts, backoff capped at an hour);
# one still queued after two days waits for a sender that will not come (a process that
# queued it and never ran a sender), and mail that late would only confuse its reader.
ABANDONED_MAIL_AGE = timedelta(days=2)
# The background thread's pause between batches: requests get the database and the GIL.
BATCH_PAUSE_SECONDS = 0.01

Pruned = dict[str, int]


@dataclass(frozen=True)
class PrunableKind:
    """Rows the janitor deletes: their name (a metric label) and how to delete a batch.

    `delete_batch(now, limit)` deletes at most `limit` rows dead at `now`, in one
    transaction, and returns how many it deleted.
    """

    name: str
    delete_batch: Callable[[datetime, int], int]


def standard_kinds(
    db: DB, policy: SessionPolicy, audit_retention: timedelta
) -> list[PrunableKind]:
    """Return the kinds every deployment prunes, in the order a pass visits them."""

    def sessions(now: datetime, limit: int) -> int:
        window = policy.dead_window(now)
        return db.delete_dead_sessions(window.now, window.idle_since, limit)

    def mail_jobs(now: datetime, limit: int) -> int:
        # Sent and given-up jobs are deleted by the outbox itself; these are abandoned.
        return db.delete_mail_queued_before(now - ABANDONED_MAIL_AGE, limit)

    def audit_events(now: datetime, limit: int) -> int:
        return db.delete_audit_events_before(now - audit_retention, limit)

    return [
        PrunableKind("sessions", sessions),
        PrunableKind("one_time_secrets", db.delete_expired_secrets),
        # Logins that never got their second factor (login_transactions.py).
        PrunableKind("pending_logins", db.delete_expired_pending_logins),
        PrunableKind("mail_jobs", mail_jobs),
        PrunableKind("audit_events", audit_events),
    ]


class Janitor:
    """Prune every kind in batches, holding the deployment's lease; by hand or on a thread.

    Building one does no I/O; the thread starts with `start()` (a served worker calls it).
    """

    def __init__(
        self,
        db: DB,
        kinds: Sequence[PrunableKind],
        *,
        batch_size: int,
        interval: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Prune `kinds` in batches of `batch_size` rows, every `interval` seconds once started
        (0: never on a thread)."""
        self._db, self._kinds, self._clock = db, list(kinds), clock
        self._batch_size, self._interval = batch_size, interval
        # Names this process's claim on the lease: host, process, and this janitor.
        self._holder = f"{socket.gethostname()[:64]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._listeners: list[Callable[[str, int], object]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def kinds(self) -> list[str]:
        """The names of the kinds a pass prunes, in order."""
        return [kind.name for kind in self._kinds]

    def on_pruned(self, listener: Callable[[str, int], object]) -> None:
        """Call `listener(kind, count)` after each batch that deleted rows (metrics count them)."""
        self._listeners.append(listener)

    def run_once(self, pause: float = 0.0) -> Pruned | None:
        """Prune every kind until a batch comes back short; return the rows deleted per kind.

        Returns None, deleting nothing, when another janitor holds the lease. `pause` is the
        wait in seconds between batches.
        """
        if not self._renew():
            return None
        pruned: Pruned = dict.fromkeys(self.kinds, 0)
        try:
            for kind in self._kinds:
                if not self._prune(kind, pruned, pause):
                    break
        finally:
            self._db.release_lease(LEASE_NAME, self._holder, self._clock())
        return pruned

    def start(self) -> None:
        """Prune every `interval` seconds on a thread, from a random moment in the first one."""
        with self._lock:
            if self._interval > 0 and self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="userauth-janitor", daemon=True
                )
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after its current batch (waiting up to `timeout` seconds)."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _prune(self, kind: PrunableKind, pruned: Pruned, pause: float) -> bool:
        """Delete batches of one kind into `pruned`; tell whether the lease is still held."""
        while not self._stopping.is_set():
            removed = kind.delete_batch(self._clock(), self._batch_size)
            pruned[kind.name] += removed
            if removed:
                for listener in self._listeners:
                    listener(kind.name, removed)
            if not self._renew():
                return False
            if removed < self._batch_size:
                return True
            self._stopping.wait(pause)
        return False

    def _renew(self) -> bool:
        now = self._clock()
        return self._db.take_lease(LEASE_NAME, self._holder, now, now + LEASE)

    def _run(self) -> None:
        # Servers and workers started together spread their first attempts over the interval
        # (jitter, not a secret).
        wait = self._interval * random.uniform(0.5, 1.0)  # noqa: S311
        while not self._stopping.wait(wait):
            wait = self._interval
            try:
                pruned = self.run_once(pause=BATCH_PAUSE_SECONDS)
            except Exception as error:  # the database is down: try again next interval
                logger.warning("janitor: cannot reach the database (%s)", type(error).__name__)
                continue
            if pruned and any(pruned.values()):
                logger.info("janitor pruned", extra={"removed": pruned})
