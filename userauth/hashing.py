"""Password hashing's share of the CPU: a bounded pool of low-priority threads per process.

bcrypt is deliberately slow (about 0.3 s of a core at cost 12) and releases the GIL, so a
burst of logins on a server's request threads would take every core, and a session check or
gate answer (under a millisecond of work) would wait behind them. Every bcrypt run goes
through this pool instead: at most `threads` at once per process (the setting
USERAUTH_PASSWORD_HASHING_THREADS; by default the cores divided among the workers), on
threads whose scheduling priority is lowered (nice + HASHING_NICENESS), so the cheap requests
are served first whenever the cores are contended and hashing runs at full speed otherwise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Linux's nice scale: +10 gives a thread about a tenth of a default thread's CPU share when
# both want a core (CFS weights 110 and 1024), and the whole core when nothing else does.
HASHING_NICENESS = 10


class HashingPool:
    """Run bcrypt work at most `threads` at a time in this process, on low-priority threads.

    The threads are made in the process that first uses the pool (a forked worker makes its
    own: threads do not survive a fork).
    """

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"a hashing pool needs at least one thread, not {threads}")
        self.threads = threads
        self._lock = threading.Lock()
        self._pid = -1
        self._executor: ThreadPoolExecutor | None = None

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` on one of the pool's threads and return its result (or raise its error)."""
        return self._executor_here().submit(work).result()

    def _executor_here(self) -> ThreadPoolExecutor:
        pid = os.getpid()
        with self._lock:
            if self._executor is None or self._pid != pid:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.threads,
                    thread_name_prefix="userauth-hashing",
                    initializer=_lower_priority,
                )
                self._pid = pid
            return self._executor


def _lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: nice applies per thread)."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), current + HASHING_NICENESS)
    except (AttributeError, OSError):
        pass  # a platform without per-thread priorities: bounded, at normal priority


def default_threads(cores: int, workers: int) -> int:
    """Return the pool's default size: this worker's share of the cores, at least one."""
    return max(1, cores // max(1, workers))
