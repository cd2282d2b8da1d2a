"""Outgoing mail: the messages and their SMTP delivery (outbox.py queues and retries them)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from userauth import mail_templates
from userauth.mail_templates import N_, MailMessage
from userauth.settings import Settings

# RFC 5321 4.2: the replies that accept a sender or a recipient.
SMTP_OK = 250
SMTP_WILL_FORWARD = 251


class Mailer(Protocol):
    """Something that delivers one message: plain text, and the same as HTML when given."""

    def send(self, to: str, subject: str, body: str, html: str | None = None) -> None:
        """Deliver one message (multipart/alternative with `html`), or raise."""

    def probe(self, to: str) -> None:
        """Talk to the mail server as `send` to `to` would, delivering nothing; raise as it would.

        Jobs that turn out to have nothing to send (a reset for an unknown email) probe
        instead, so a mail outage, or a server refusing that recipient, fails, retries and
        counts them exactly like real mail.
        """


def require_mailer(mailer: Mailer | None) -> Mailer:
    """Return the mailer.

    Raises:
        RuntimeError: there is none (production refuses to start without one).
    """
    if mailer is None:
        raise RuntimeError("no mailer: set USERAUTH_SMTP_HOST")
    return mailer


def send_mail(mailer: Mailer, to: str, message: MailMessage) -> None:
    """Deliver a templated mail: its text and HTML parts (mail_templates.py)."""
    mailer.send(to, message.subject, message.text, message.html)


def reset_message(
    settings: Settings, token: str, lifetime_minutes: int, accept_language: str = ""
) -> MailMessage:
    """Return the reset mail (templates `reset.txt`, `reset.html`) in the asker's language;
    the link is its only secret."""
    link = settings.mail.reset_link_template.replace("{token}", quote(token, safe=""))
    return mail_templates.render(
        settings,
        "reset",
        N_("Reset your password"),
        accept_language,
        link=link,
        minutes=lifetime_minutes,
    )


def signup_notice(settings: Settings, accept_language: str = "") -> MailMessage:
    """Return the mail sent when someone tries to register an email that has an account."""
    return mail_templates.render(
        settings,
        "account_exists",
        N_("Your account already exists"),
        accept_language,
        forgot_link=forgot_link(settings),
    )


# The paths of userauth's own reset pages (the hosted one, and the design's link to it).
_OWN_RESET_PATHS = ("/auth/reset", "/reset_password")


def forgot_link(settings: Settings) -> str | None:
    """Return the link to the page where an owner asks for a reset link, or None.

    USERAUTH_FORGOT_LINK when set; else, when USERAUTH_RESET_LINK leads to userauth's own
    reset page and the hosted pages are on, the hosted forgot page beside it (same site,
    same prefix); else None: an app's own reset page says nothing of where its forgot page is.
    """
    if settings.mail.forgot_link is not None:
        return settings.mail.forgot_link
    if not settings.web.pages_enabled:
        return None
    parts = urlsplit(settings.mail.reset_link_template)
    for path in _OWN_RESET_PATHS:
        if parts.path.endswith(path):
            prefix = parts.path.removesuffix(path)
            return urlunsplit((parts.scheme, parts.netloc, f"{prefix}/auth/forgot", "", ""))
    return None


def test_message(settings: Settings) -> tuple[str, str]:
    """Return the subject and body of the mail `userauth mail test` sends."""
    body = (
        "This is a test message from userauth (`userauth mail test`).\n\n"
        f"It went through {settings.mail.smtp_host}:{settings.mail.smtp_port} "
        f"(USERAUTH_SMTP_TLS={settings.mail.smtp_tls}) from {settings.mail.sender}: reset links "
        "and notices will reach this inbox the same way.\n"
    )
    return "userauth test message", body


class SmtpMailer:
    """Deliver mail through the SMTP server named by the settings."""

    def __init__(self, settings: Settings, timeout: float = 10) -> None:
        self._settings = settings
        self._timeout = timeout

    def send(self, to: str, subject: str, body: str, html: str | None = None) -> None:
        settings = self._settings
        message = EmailMessage()
        message["From"] = settings.mail.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        # The sender's domain: make_msgid's default would look up this host's name (DNS).
        message["Message-ID"] = make_msgid(domain=_domain_of(settings.mail.sender))
        message.set_content(body)
        if html is not None:
            # multipart/alternative: the client shows the HTML, or the text (RFC 2046 5.1.4).
            message.add_alternative(html, subtype="html")
        with self._session() as smtp:
            smtp.send_message(message)

    def probe(self, to: str) -> None:
        settings = self._settings
        with self._session() as smtp:
            # The envelope as send_message gives it, up to the recipient, then RSET: a server
            # that refuses the sender or this recipient refuses the probe as it would the mail.
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(settings.mail.sender)
            if code != SMTP_OK:
                raise smtplib.SMTPSenderRefused(code, reply, settings.mail.sender)
            code, reply = smtp.rcpt(to)
            if code not in (SMTP_OK, SMTP_WILL_FORWARD):
                raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
            smtp.rset()

    @contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        """Open an SMTP session as the settings say (TLS, login), closed after the block."""
        settings = self._settings
        if settings.mail.smtp_host is None:
            raise RuntimeError("USERAUTH_SMTP_HOST is not set")
        smtp_class = smtplib.SMTP_SSL if settings.mail.smtp_tls == "ssl" else smtplib.SMTP
        with smtp_class(
            settings.mail.smtp_host, settings.mail.smtp_port, timeout=self._timeout
        ) as smtp:
            if settings.mail.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.mail.smtp_user and settings.mail.smtp_password:
                smtp.login(settings.mail.smtp_user, settings.mail.smtp_password)
            yield smtp


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip().strip(">")
    return domain or "localhost"
