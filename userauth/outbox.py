"""The durable mail outbox: jobs in the database, one background sender per process.

A request only appends a job ("reset for this email"); the sender, after the answer, claims
due jobs, runs the handler registered for their kind (which finds the account, issues what
must be issued, and sends), and deletes them. A failed send is retried with exponential
backoff; a stopping process sends what is due for up to DRAIN_SECONDS and leaves the rest
in the table for the next start. Delivery is at least once: a process killed between
sending and deleting sends that mail again.

A job keeps the asker's Accept-Language, so its mail is written in the asker's language
(mail_templates.py), though sent later, outside the request.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from userauth.audit import Client
from userauth.clock import utcnow
from userauth.db import DB, ClaimedMail

logger = logging.getLogger(__name__)

# How long a stopping process keeps sending due mail (the server allows 30 s to stop).
DRAIN_SECONDS = 10
# A claim outlives any send (SMTP times out after 10 s); a dead worker's job is free after.
LEASE = timedelta(seconds=60)
# After this many failed attempts a job is given up, and logged as lost.
MAX_ATTEMPTS = 12
MAX_BACKOFF = timedelta(hours=1)
# Each sender looks for due jobs (other processes', retries) at least this often.
POLL_SECONDS = 1.0
# The sender waits for a pause in requests this long, but never longer than the maximum.
QUIET_SECONDS = 0.25
MAX_QUIET_WAIT_SECONDS = 5.0

_open_outboxes: weakref.WeakSet[Outbox] = weakref.WeakSet()


@atexit.register
def _drain_open_outboxes() -> None:
    # A process that exits normally sends what it can now; the table keeps the rest (server
    # workers, which end without atexit, do the same through userauth.server.load_app).
    for outbox in list(_open_outboxes):
        outbox.stop(DRAIN_SECONDS)


@dataclass(frozen=True)
class MailJob:
    """A claimed job as a handler sees it."""

    email: str
    client: Client
    first_attempt: bool
    # The account the mail concerns (None: none yet) and what the mail needs (a new address).
    user_id: int | None = None
    payload: str | None = None


Handler = Callable[[MailJob], None]


def backoff(attempt: int, first: timedelta) -> timedelta:
    """Return the wait after failed attempt number `attempt`: doubling, capped at an hour."""
    wait: timedelta = first * 2 ** min(attempt - 1, 30)
    return min(wait, MAX_BACKOFF)


class Outbox:
    """Queue mail jobs durably and send them on one background thread per process.

    Building one starts nothing: the thread starts with `start()` (a server worker does it,
    so mail left by a stopped process goes out) or with the first job.
    """

    def __init__(
        self, db: DB, retry_delay: timedelta, clock: Callable[[], datetime] = utcnow
    ) -> None:
        # Real time, not the domain's clock: scheduling retries is operational.
        self._db, self._retry_delay, self._clock = db, retry_delay, clock
        self._handlers: dict[str, Handler] = {}
        self._wake, self._stopping = threading.Event(), threading.Event()
        # Set by join() and stop(): send now, without waiting for a pause in requests.
        self._urgent = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._drain_deadline = 0.0
        self._last_enqueue = 0.0
        self._failure_listeners: list[Callable[[], object]] = []
        self._explain: Callable[[Exception], str | None] = _unexplained

    def handle(self, kind: str, handler: Handler) -> None:
        """Register the handler that sends jobs of this kind; it raises when sending failed."""
        self._handlers[kind] = handler

    def on_failure(self, listener: Callable[[], object]) -> None:
        """Call `listener` after each failed send, on the sender thread (metrics count them)."""
        self._failure_listeners.append(listener)

    def explain_failures(self, explain: Callable[[Exception], str | None]) -> None:
        """Have each failure's log line carry `explain(error)`: a sentence with the fix.

        The sentence must hold no secret, recipient or server reply (it is logged as is).
        """
        self._explain = explain

    def enqueue(
        self,
        kind: str,
        email: str,
        client: Client,
        *,
        user_id: int | None = None,
        payload: str | None = None,
    ) -> None:
        """Append a job and wake the sender; the same work whatever the email."""
        self._db.enqueue_mail(
            kind,
            email,
            client.address,
            client.user_agent,
            self._clock(),
            user_id=user_id,
            payload=payload,
            accept_language=client.accept_language,
        )
        self._last_enqueue = time.monotonic()
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start the sender thread, once."""
        with self._lock:
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name="userauth-outbox", daemon=True
                )
                self._thread.start()
                _open_outboxes.add(self)

    def pending(self) -> int:
        """Count the jobs waiting in the table (every process's)."""
        return self._db.count_mail()

    def oldest_wait(self) -> timedelta:
        """Return how long the oldest waiting job (any process's) has waited; zero if none.

        It grows while the mail server is down, whatever the traffic: an outage shows.
        """
        oldest = self._db.oldest_mail_created_at()
        return timedelta(0) if oldest is None else max(timedelta(0), self._clock() - oldest)

    def join(self, timeout: float = 30) -> None:
        """Wait until no job is due now (sent, given up, or postponed), or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._db.count_mail(due_by=self._clock()) == 0:
                return
            self.start()
            self._urgent.set()
            self._wake.set()
            time.sleep(0.02)

    def stop(self, timeout: float = DRAIN_SECONDS) -> None:
        """Send what is due for up to `timeout` seconds, then stop the sender."""
        self._drain_deadline = time.monotonic() + timeout
        self._stopping.set()
        self._urgent.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout + 1)

    def _run(self) -> None:
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            stopping = self._stopping.is_set()
            if not stopping:
                self._wait_for_quiet()
            try:
                while self._send_one():
                    if self._stopping.is_set() and time.monotonic() > self._drain_deadline:
                        break
            except Exception as error:  # the database is down: poll again later
                logger.warning("mail outbox: cannot reach the database (%s)", type(error).__name__)
            if stopping or self._stopping.is_set():
                return
            self._urgent.clear()

    def _wait_for_quiet(self) -> None:
        # Sending competes with requests for the CPU (and the GIL). Waiting for a pause in
        # requests that queue mail keeps a reset of a known email from slowing the answers
        # that follow it, which would tell known emails apart by timing (enumeration).
        started = time.monotonic()
        while True:
            now = time.monotonic()
            quiet_for = now - self._last_enqueue
            if quiet_for >= QUIET_SECONDS or now - started >= MAX_QUIET_WAIT_SECONDS:
                return
            if self._urgent.wait(QUIET_SECONDS - quiet_for):
                return

    def _send_one(self) -> bool:
        now = self._clock()
        claimed = self._db.claim_mail(now, now + LEASE)
        if claimed is None:
            return False
        handler = self._handlers.get(claimed.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for mail of kind {claimed.kind!r}")
            handler(_job(claimed))
        except Exception as error:
            self._failed(claimed, error)
        else:
            self._db.finish_mail(claimed.id)
        return True

    def _failed(self, claimed: ClaimedMail, error: Exception) -> None:
        for listener in self._failure_listeners:
            listener()
        # One line, no secret: the job's id and kind, the error's class and what it means
        # (mail_failures.diagnose), not its message (it could quote an SMTP reply or a
        # recipient).
        reason = type(error).__name__
        hint = self._explain(error)
        if hint is not None:
            reason = f"{reason}: {hint.rstrip('.')}"
        if claimed.attempt >= MAX_ATTEMPTS:
            self._db.finish_mail(claimed.id)
            logger.error(
                "mail job %d (%s) given up after %d attempts: %s",
                claimed.id, claimed.kind, claimed.attempt, reason,
            )  # fmt: skip
            return
        wait = backoff(claimed.attempt, self._retry_delay)
        self._db.postpone_mail(claimed.id, self._clock() + wait)
        logger.warning(
            "mail job %d (%s) failed on attempt %d: %s; retrying in %.1f s",
            claimed.id, claimed.kind, claimed.attempt, reason, wait.total_seconds(),
        )  # fmt: skip


def _unexplained(_error: Exception) -> str | None:
    return None


def _job(claimed: ClaimedMail) -> MailJob:
    client = Client(
        address=claimed.client_address,
        user_agent=claimed.user_agent,
        accept_language=claimed.accept_language,
    )
    return MailJob(
        email=claimed.email,
        client=client,
        first_attempt=claimed.attempt == 1,
        user_id=claimed.user_id,
        payload=claimed.payload,
    )
