"""Idle-clock writes off the request path: one writer per process, batching session touches.

A session's idle clock (`last_used_at`) is written every 30 to 60 s of use (sessions.py).
Written inside the request, the first requests after a quiet spell (every session due at
once) queued on the database's write lock and went the slow way, and their latency showed
in every client's tail. With a writer started, a use records (session row id, time of use)
and the request goes on; a thread writes what was recorded every FLUSH_SECONDS in one
transaction.

What it does to the idle timeout (NIST SP 800-63B 7.2: a session ends after the idle
timeout without use): the stored time is the time of use, never of the write, and a stored
clock never moves back, so no session outlives the timeout. A session can end earlier, by
up to the touch interval plus FLUSH_SECONDS, when it is next checked where only the stored
clock is known (another worker, after a restart) — or by the touches a worker held when it
was killed, or could not write during a database outage. Ending early is the safe side.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from userauth.db.outages import outage_cause

logger = logging.getLogger(__name__)

# How often a process writes the idle clocks its requests moved, in seconds.
FLUSH_SECONDS = 1.0
# How long a stopping process waits for a write in progress before its last one.
STOP_WAIT_SECONDS = 5.0


class IdleClockWriter:
    """Collect session touches and write them in batches from a background thread.

    `write` receives {session row id: time of its latest use} and stores each time, never
    moving a clock back (db.sessions.touch_sessions).
    """

    def __init__(
        self,
        write: Callable[[Mapping[int, datetime]], None],
        interval: float = FLUSH_SECONDS,
    ) -> None:
        self._write = write
        self._interval = interval
        self._pending: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def record(self, session_id: int, now: datetime) -> bool:
        """Record a use of the session at `now` for the next write; tell whether it was taken.

        False when the writer is not running (never started, stopping, or its thread died):
        the caller then writes the clock itself.
        """
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive() or self._stopping.is_set():
                return False
            self._keep(session_id, now)
            return True

    def flush(self) -> None:
        """Write every recorded touch now.

        Raises:
            Whatever `write` raises (a database outage): the touches stay for the next flush.
        """
        with self._lock:
            touches, self._pending = self._pending, {}
        if not touches:
            return
        try:
            self._write(touches)
        except BaseException:
            with self._lock:
                for session_id, moment in touches.items():
                    self._keep(session_id, moment)
            raise

    def start(self) -> None:
        """Start the thread that flushes every `interval` seconds (once; again is a no-op)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="userauth-idle-clock", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Refuse new touches, stop the thread, then write what is left.

        A failure of that last write is logged, not raised: the touches are lost, and the
        sessions concerned may end early (never late).
        """
        with self._lock:
            self._stopping.set()
            thread = self._thread
        if thread is not None:
            thread.join(STOP_WAIT_SECONDS)
        self._flush_and_log()

    def _keep(self, session_id: int, moment: datetime) -> None:
        # Under the lock. The latest use wins: writes may arrive out of order.
        known = self._pending.get(session_id)
        if known is None or moment > known:
            self._pending[session_id] = moment

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._flush_and_log()

    def _flush_and_log(self) -> None:
        """Flush; log when writes start failing (once) and when they work again."""
        try:
            self.flush()
        except Exception as error:
            cause = outage_cause(error)
            if cause is None:  # not an outage: a bug, with its traceback (as a 500 is)
                logger.error("idle clocks not written", exc_info=True)
            elif not self._failing:
                # The cause's fixed words only: a driver's message may quote the URL.
                logger.warning("idle clocks not written: %s; retrying every second", cause)
            self._failing = True
            return
        if self._failing:
            logger.info("idle clocks written again")
            self._failing = False
