"""PostgreSQL's session-change broadcast: NOTIFY in the transaction, LISTEN in every process.

Each process that asks for a version starts (lazily, so after a fork) one daemon thread with
its own connection, outside the pool, that LISTENs and counts notifications per user. The
channel is healthy only while notifications reach it: the thread NOTIFYs itself every
HEARTBEAT seconds, and versions are None once LEASE seconds pass without hearing one back, or
as soon as the connection is lost. Found again, the channel starts a new epoch.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time

import psycopg
from sqlalchemy import Connection, Engine, func, select

from userauth.db.broadcast import BUCKETS, Broadcast, Version, bucket

logger = logging.getLogger("userauth.sessions")

CHANNEL = "userauth_sessions"
# Each listener's heartbeat channel: this prefix and a random suffix.
ECHO_PREFIX = "userauth_sessions_echo_"
# The listener's application_name, so an operator (or a test) can find its backend.
APPLICATION_NAME = "userauth-session-listener"
HEARTBEAT = 0.5  # seconds between heartbeats
# An answer older than this and the channel is not known healthy: a connection that went
# silent (a dropped network) stops cache hits within LEASE, not at its TCP timeout.
LEASE = 2.0
RECONNECT_DELAY = 0.5
# Attempts slow down to this while the database refuses the listener.
MAX_RECONNECT_DELAY = 10.0
# A listener without a connection this long is worth a warning (see _report_pause).
PAUSE_WARNING_SECONDS = 30.0


class ChangeListener(Broadcast):
    """NOTIFY on commit; one LISTEN connection per process, started on first use."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Read without a lock, one list item at a time; written under _count_lock.
        self._counts = [0] * (1 + BUCKETS)
        self._count_lock = threading.Lock()
        self._epoch = 0
        self._listening = False
        # Monotonic time up to which every NOTIFY is known received (the last echo's sending).
        self._heard = float("-inf")
        self._down_since = time.monotonic()
        self._warned = False
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._stop = threading.Event()

    def before_commit(self, connection: Connection, user_ids: set[int]) -> None:
        # The payload names a user, never a session: NOTIFY payloads are visible to every
        # listener of the database.
        for user_id in sorted(user_ids):
            connection.execute(select(func.pg_notify(CHANNEL, str(user_id))))

    def after_commit(self, user_ids: set[int]) -> None:
        # This process's own checks must see its writes at once, not when its listener hears
        # them back (a password change followed by another, on one connection). The listener
        # counts the same change again later: one more database read, never a stale answer.
        for user_id in user_ids:
            self._count(user_id)

    def version(self) -> Version | None:
        return self._read(0)

    def user_version(self, user_id: int) -> Version | None:
        return self._read(bucket(user_id))

    def close(self) -> None:
        self._stop.set()

    def _read(self, slot: int) -> Version | None:
        if self._pid != os.getpid():
            self._start()
            return None
        if not self._listening or time.monotonic() - self._heard >= LEASE:
            return None
        return self._epoch, self._counts[slot]

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid() or self._stop.is_set():
                return
            # A forked child inherits the parent's state but not its thread: start afresh.
            self._listening = False
            self._heard = float("-inf")
            self._epoch += 1
            self._pid = os.getpid()
            thread = threading.Thread(target=self._run, name="userauth-session-listener")
            thread.daemon = True
            thread.start()

    def _run(self) -> None:
        delay = RECONNECT_DELAY
        while not self._stop.is_set():
            failure = "ended"
            try:
                with self._connect() as connection:
                    self._listen(connection)
            # Any failure, not only psycopg's: the thread must live to listen again.
            except Exception as error:
                failure = type(error).__name__
            # A connection that was up retries soon; one that never came up, less and less often.
            delay = RECONNECT_DELAY if self._listening else min(delay * 2, MAX_RECONNECT_DELAY)
            self._lost()
            self._report_pause(failure)
            self._stop.wait(delay)

    def _report_pause(self, failure: str) -> None:
        """Warn once when the cache stays paused; a short outage is the requests' to log.

        A database outage is logged by the requests it fails (one line per outage), and a
        listener that reconnects at once changes nothing but a few database reads. A pause
        that lasts (a pooler that does not deliver notifications, no free connection) costs
        every check a read, and an operator must hear of it.
        """
        paused = time.monotonic() - max(self._down_since, self._heard)
        if not self._warned and paused >= PAUSE_WARNING_SECONDS:
            self._warned = True
            logger.warning(
                "session cache paused for %.0f s: its PostgreSQL listener hears no notification"
                " (%s); session checks read the database until it is back",
                paused,
                failure,
            )

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        args, params = self._engine.dialect.create_connect_args(self._engine.url)
        params.update(
            autocommit=True,
            application_name=APPLICATION_NAME,
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )
        return psycopg.connect(*args, **params)

    def _listen(self, connection: psycopg.Connection[tuple[object, ...]]) -> None:
        # The heartbeat is a NOTIFY to this listener alone, not a query: hearing it back proves
        # notifications reach this connection (a transaction-mode pooler would run LISTEN
        # and answer queries, yet never deliver), and, the queue being in commit order, that
        # every change committed before it was sent has arrived.
        echo = f"{ECHO_PREFIX}{secrets.token_hex(8)}"
        connection.execute(f"LISTEN {CHANNEL}")
        connection.execute(f"LISTEN {echo}")
        # Nothing heard before now is trusted: a new epoch, the cache starts empty.
        self._epoch += 1
        self._listening = True
        while not self._stop.is_set():
            connection.execute("SELECT pg_notify(%s, %s)", (echo, repr(time.monotonic())))
            for notify in connection.notifies(timeout=HEARTBEAT):
                if notify.channel == echo:
                    self._echoed(float(notify.payload))
                else:
                    self._changed(notify.payload)
            if time.monotonic() - self._heard >= PAUSE_WARNING_SECONDS:
                self._report_pause("no notification comes back")

    def _echoed(self, sent: float) -> None:
        self._heard = max(self._heard, sent)
        if self._warned:
            self._warned = False
            logger.info("session cache resumed: its PostgreSQL listener hears notifications")

    def _changed(self, payload: str) -> None:
        try:
            user_id = int(payload)
        except ValueError:
            # Not ours: trust nothing cached rather than guess.
            self._epoch += 1
            return
        self._count(user_id)

    def _count(self, user_id: int) -> None:
        # Two writers (the listener, and request threads after their commits): an increment
        # lost between them would leave a stale entry valid. Readers need no lock.
        with self._count_lock:
            # The every-change counter moves first (see SessionCache.fill).
            self._counts[0] += 1
            self._counts[bucket(user_id)] += 1

    def _lost(self) -> None:
        if self._listening:
            self._down_since = time.monotonic()
        self._listening = False
        self._heard = float("-inf")  # a new connection must prove itself with its own echo
        self._epoch += 1
