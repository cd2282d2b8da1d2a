"""A forked worker's stop signals, from the fork until granian's own handler is in place.

A forked worker inherits the handler of granian's main process, which does nothing in a
worker, and granian installs the worker's own only once the app is loaded: a stop sent to a
starting worker (a server stopped right after it started) was lost, and the worker served on
until granian killed it. So the stop signals are blocked across the fork (a signal sent then
waits, pending), kept while the app is built, and end the worker as soon as it is built.
"""

from __future__ import annotations

import logging
import os
import signal

# The server's logger: these lines are the server's, whichever module writes them.
logger = logging.getLogger("userauth.server")

# What stops a worker: SIGTERM from granian's main process (or an operator), SIGINT from a
# terminal's Ctrl-C.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def hold_stop_signals_across_forks() -> None:
    """From each fork on, keep a worker's stop signals until its app is built (app_built)."""
    # granian forks its workers where multiprocessing's default is fork, as on Linux up to
    # Python 3.13; a spawned worker starts with the default action, and a stop ends it.
    os.register_at_fork(
        before=_block_stop_signals,
        after_in_parent=_unblock_stop_signals,
        after_in_child=_starting_worker.keep_stop_signals,
    )


def app_built() -> None:
    """Mark this worker's app built; end the worker if a stop signal came while it started.

    Raises:
        SystemExit: a stop signal reached the worker while it was starting; it ends, with
            its threads' finalizers, before serving anything.
    """
    _starting_worker.app_built()


class _StartingWorker:
    """A worker's stop signals from its fork until granian's own handler replaces ours."""

    def __init__(self) -> None:
        self.kept: signal.Signals | None = None  # the first stop signal, once one came
        self.built = False

    def keep_stop_signals(self) -> None:
        """In a worker just forked: handle SIGTERM and SIGINT here, then let them in."""
        self.kept, self.built = None, False
        try:
            for number in STOP_SIGNALS:
                signal.signal(number, self._keep)
        finally:
            _unblock_stop_signals()

    def app_built(self) -> None:
        """Mark the app built (load_app's last step); end the worker if a stop was kept.

        Raises:
            SystemExit: a stop signal reached the worker while it was starting; it ends,
                with its threads' finalizers, before serving anything.
        """
        self.built = True
        if self.kept is not None:
            self._stop(self.kept)

    def _keep(self, signum: int, _frame: object) -> None:
        # The app is built in one piece; a signal that comes after it is built (granian has
        # not yet put its handler in place) ends the worker at once.
        if self.kept is None:
            self.kept = signal.Signals(signum)
        if self.built:
            self._stop(self.kept)

    def _stop(self, kept: signal.Signals) -> None:
        # A second stop (systemd's SIGTERM to the whole group, then granian's own) must not
        # interrupt this exit: the finalizers still write idle clocks and send queued mail.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        logger.info("worker stopped while starting", extra={"signal": kept.name})
        raise SystemExit(0)


_starting_worker = _StartingWorker()
# The forking thread's signal mask from before _block_stop_signals, restored after the fork.
_mask_before_fork: set[int | signal.Signals] = set()


def _block_stop_signals() -> None:
    """Hold SIGTERM and SIGINT pending in the forking thread (and so in the child)."""
    global _mask_before_fork
    _mask_before_fork = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _unblock_stop_signals() -> None:
    """Restore the mask from before the fork: the stop signals held since are delivered."""
    signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork)
