"""Outgoing mail: the messages, SMTP delivery, and the background outbox."""

from __future__ import annotations

import atexit
import logging
import queue
import smtplib
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import quote

from userauth.settings import Settings

logger = logging.getLogger(__name__)

# Mail jobs that may wait at once, and how long a stopping process waits for them.
CAPACITY = 1000
DRAIN_SECONDS = 10
_open_outboxes: weakref.WeakSet[Outbox] = weakref.WeakSet()


@atexit.register
def _drain_open_outboxes() -> None:
    # A graceful stop (gunicorn's SIGTERM) must not silently lose queued reset links.
    for outbox in list(_open_outboxes):
        outbox.drain(DRAIN_SECONDS)


class Mailer(Protocol):
    """Something that delivers one plain-text message."""

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one message, or raise."""


def require_mailer(mailer: Mailer | None) -> Mailer:
    """Return the mailer.

    Raises:
        RuntimeError: there is none (production refuses to start without one).
    """
    if mailer is None:
        raise RuntimeError("no mailer: set USERAUTH_SMTP_HOST")
    return mailer


def reset_message(settings: Settings, token: str, lifetime_minutes: int) -> tuple[str, str]:
    """Return the subject and body of a reset email; the link is its only secret."""
    link = settings.reset_link_template.replace("{token}", quote(token, safe=""))
    body = (
        "Someone asked to reset the password of your account.\n\n"
        f"To choose a new password, open this link within {lifetime_minutes} minutes:\n\n"
        f"{link}\n\n"
        "If it was not you, ignore this message: your password has not changed.\n"
    )
    return "Reset your password", body


def signup_notice(settings: Settings) -> tuple[str, str]:
    """Return the message sent when someone tries to register an email that has an account."""
    body = (
        "Someone tried to create an account with this email address, which already has one.\n\n"
        "If it was you and you forgot your password, ask for a password reset.\n"
        "If it was not you, ignore this message.\n"
    )
    return "Your account already exists", body


class SmtpMailer:
    """Deliver mail through the SMTP server named by the settings."""

    def __init__(self, settings: Settings, timeout: float = 10) -> None:
        self._settings = settings
        self._timeout = timeout

    def send(self, to: str, subject: str, body: str) -> None:
        settings = self._settings
        if settings.smtp_host is None:
            raise RuntimeError("USERAUTH_SMTP_HOST is not set")
        message = EmailMessage()
        message["From"] = settings.mail_sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if settings.smtp_tls == "ssl" else smtplib.SMTP
        with smtp_class(settings.smtp_host, settings.smtp_port, timeout=self._timeout) as smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)


class Outbox:
    """Run mail jobs on one background thread, so a request never waits for SMTP.

    Answering before the work is done also keeps the response time of a reset request the
    same whether or not the email has an account (OWASP Forgot Password cheat sheet).
    At most `capacity` jobs wait (a flood cannot grow memory without bound); at exit, the
    process gives the waiting jobs up to DRAIN_SECONDS to run. The thread starts with the
    first job: building an outbox starts nothing.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Queue a job; drop it (and log that) when the queue is full."""
        self._start()
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            logger.error("outbox full: a mail was dropped")

    def join(self) -> None:
        """Wait until every submitted job has run."""
        self._jobs.join()

    def drain(self, timeout: float) -> None:
        """Wait until the queue is empty, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="userauth-outbox", daemon=True
                )
                self._thread.start()
                _open_outboxes.add(self)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                logger.exception("mail job failed")
            finally:
                self._jobs.task_done()
