"""Idle-clock writes off the request path: one writer per process, batching session touches.

A session's idle clock (`last_used_at`) is written every 30 to 60 s of use (sessions.py).
Written inside the request, the first requests after a quiet spell (every session due at
once) queued on the database's write lock and went the slow way, and their latency showed
in every client's tail. With a writer started, a use records (session row id, time) and the
request goes on; a thread writes what was recorded every FLUSH_SECONDS in one transaction.

The stored clock then lags the last use by at most FLUSH_SECONDS more, against an idle
timeout of minutes (NIST SP 800-63B 7.2 asks only that the timeout be enforced). A failed
write keeps its touches for the next round; a stopping process writes what it holds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

logger = logging.getLogger(__name__)

# How often a process writes the idle clocks its requests moved, in seconds.
FLUSH_SECONDS = 1.0


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

    def touch(self, session_id: int, now: datetime) -> None:
        """Record a use of the session at `now`, to be written at the next flush."""
        with self._lock:
            known = self._pending.get(session_id)
            if known is None or now > known:
                self._pending[session_id] = now

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
            for session_id, moment in touches.items():
                self.touch(session_id, moment)
            raise

    def start(self) -> None:
        """Start the thread that flushes every `interval` seconds (once; again is a no-op)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="userauth-idle-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then write what is left (a failure is logged, not raised)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._flush_logging_errors()

    @property
    def started(self) -> bool:
        return self._thread is not None and not self._stopping.is_set()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._flush_logging_errors()

    def _flush_logging_errors(self) -> None:
        try:
            self.flush()
        except Exception:
            # Row ids and times only: nothing secret. The next round tries again.
            logger.warning("idle clocks not written; retrying", exc_info=True)
