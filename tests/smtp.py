"""A real SMTP server in the test process (aiosmtpd) that keeps every message it receives,
and the apps, in either environment, that send their mail to it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import TEST_SECURITY, free_port
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.mail import SmtpMailer
from userauth.outbox import Outbox
from userauth.settings import (
    CookieSettings,
    DatabaseSettings,
    FactorSettings,
    MailSettings,
    Section,
    SecuritySettings,
    Settings,
    WebAuthnSettings,
)
from userauth.web import create_app

# The lowest bcrypt cost production accepts: tests of production run at it.
PRODUCTION_BCRYPT_ROUNDS = 10
# Production requires a key that signs the hosted pages' forms.
TEST_SECRET_KEY = "a secret key for tests, long enough for production"
PRODUCTION_SECURITY = SecuritySettings(
    bcrypt_rounds=PRODUCTION_BCRYPT_ROUNDS, secret_key=TEST_SECRET_KEY
)
PRODUCTION_COOKIES = CookieSettings(secure=True)
# A Fernet key (userauth keys generate), fixed so that servers of one test share it.
TEST_ENCRYPTION_KEY = "dGVzdCBrZXkgZm9yIHVzZXJhdXRoIHRlc3RzIG9ubHk="
PRODUCTION_FACTORS = FactorSettings(encryption_keys=(TEST_ENCRYPTION_KEY,))
# Production names the passkeys' site (settings/webauthn.py).
PRODUCTION_WEBAUTHN = WebAuthnSettings(
    rp_id="auth.example.com", origins=("https://auth.example.com",)
)


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server received it."""

    recipients: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        content: str = part.get_content()
        return content


class _Collector:
    """The aiosmtpd handler: accept every message and keep it."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail([str(to) for to in envelope.rcpt_tos], raw, parsed)
        with self._lock:
            self.received.append(mail)
        return "250 Message accepted for delivery"


class MailSink:
    """An SMTP server on 127.0.0.1 and a free port; `messages` lists what it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[MailSink]:
        with cls().serving() as sink:
            yield sink

    @contextmanager
    def serving(self) -> Iterator[MailSink]:
        """Accept mail on this sink's port until the block ends (before it, nothing listens)."""
        # aiosmtpd logs every SMTP command at INFO on its own thread; quiet, it does not
        # compete with the request a timing test measures.
        server_log = logging.getLogger("mail.log")
        level = server_log.level
        server_log.setLevel(logging.WARNING)
        self._controller.start()
        try:
            yield self
        finally:
            self._controller.stop()
            server_log.setLevel(level)

    def close(self) -> None:
        """Release the event loop of a sink that may never have served."""
        self._controller.loop.close()

    @property
    def messages(self) -> list[ReceivedMail]:
        return list(self._collector.received)

    def to(self, address: str) -> list[ReceivedMail]:
        """Return the messages delivered to this address."""
        return [mail for mail in self.messages if address in mail.recipients]

    def production_env(self) -> dict[str, str]:
        """Return the environment of a production server process that mails to this sink."""
        return {
            "USERAUTH_ENV": "production",
            "USERAUTH_HOST": "127.0.0.1",
            "USERAUTH_BCRYPT_ROUNDS": str(PRODUCTION_BCRYPT_ROUNDS),
            "USERAUTH_COOKIE_SECURE": "true",
            "USERAUTH_SMTP_HOST": "127.0.0.1",
            "USERAUTH_SMTP_PORT": str(self.port),
            "USERAUTH_SMTP_TLS": "none",
            "USERAUTH_MAIL_FROM": "userauth@example.com",
            "USERAUTH_RESET_LINK": "https://auth.example.com/reset?token={token}",
            "USERAUTH_SECRET_KEY": TEST_SECRET_KEY,
            "USERAUTH_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "USERAUTH_WEBAUTHN_RP_ID": "auth.example.com",
            "USERAUTH_WEBAUTHN_ORIGINS": "https://auth.example.com",
        }

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[ReceivedMail]:
        """Wait until `count` messages reached this address; return them (maybe fewer)."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.to(address)

    def production_mail(self) -> MailSettings:
        """Return production's mail settings: plain SMTP to this sink, https reset links."""
        return MailSettings(
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            smtp_tls="none",
            sender="userauth@example.com",
            reset_link_template="https://auth.example.com/reset?token={token}",
        )

    def production_settings(self, database_url: str, *sections: Section) -> Settings:
        """Return production settings that pass the start-up checks and mail to this sink."""
        settings = Settings(
            env="production",
            database=DatabaseSettings(url=database_url),
            security=PRODUCTION_SECURITY,
            cookies=PRODUCTION_COOKIES,
            mail=self.production_mail(),
            factors=PRODUCTION_FACTORS,
            webauthn=PRODUCTION_WEBAUTHN,
        )
        return settings.with_sections(*sections)


@dataclass(frozen=True)
class Service:
    """One app with its Auth and its outbox, as a test drives it."""

    app: Flask
    auth: Auth
    client: FlaskClient

    @property
    def outbox(self) -> Outbox:
        return self.auth.outbox


class ServiceFactory:
    """Build apps on one database that mail to one sink; `close()` waits for their mail."""

    def __init__(self, database_url: str, clock: Callable[[], datetime], sink: MailSink) -> None:
        self._database_url, self._clock, self._sink = database_url, clock, sink
        self._made: list[tuple[DB, Outbox]] = []

    def __call__(
        self, environment: str = "production", *sections: Section, hash_rounds: int | None = None
    ) -> Service:
        """Build an app in this environment; sections given replace the settings' own.

        `hash_rounds=N` (not a setting) is the bcrypt cost the service's Auth hashes and checks
        at, where the cost is not what a test specifies: the app keeps the settings' own
        (production's start-up checks refuse a cost under 10) and answers as it always does,
        only sooner.
        """
        if environment == "production":
            settings = self._sink.production_settings(self._database_url, *sections)
        else:
            development = Settings(
                database=DatabaseSettings(url=self._database_url), security=TEST_SECURITY
            )
            settings = development.with_sections(*sections)
        migrations.ensure_current(self._database_url, auto_migrate=True)
        db = DB(self._database_url)
        hashing = (
            settings
            if hash_rounds is None
            else settings.with_sections(replace(settings.security, bcrypt_rounds=hash_rounds))
        )
        auth = Auth(db=db, settings=hashing, mailer=SmtpMailer(settings), clock=self._clock)
        app = create_app(settings, auth)
        service = Service(app, auth, app.test_client())
        self._made.append((db, service.outbox))
        return service

    def close(self) -> None:
        for db, outbox in self._made:
            outbox.join()  # a mail job still uses the database
            outbox.stop(0)
            db.close()
