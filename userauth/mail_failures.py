"""What a failed SMTP delivery means: one sentence with its fix, for the log and the CLI.

Each sentence names the server (host and port, which are settings, not secrets), what went
wrong and the setting that fixes it. None quotes the server's reply text, the recipient or a
password: the reply to a refused login or recipient can echo the user name or the address,
and the outbox's log line carries the sentence.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from userauth.settings import Settings

# Ports whose TLS mode is conventional (RFC 8314 3.3: 465 for implicit TLS, 587 submission).
IMPLICIT_TLS_PORT = 465
SUBMISSION_PORT = 587


@dataclass(frozen=True)
class MailFailure:
    """A failed delivery, explained: `reason` a short label, `sentence` what to do."""

    reason: str
    sentence: str


def diagnose(error: BaseException, settings: Settings) -> MailFailure | None:
    """Explain an exception raised while sending through SMTP; None if it is not such one."""
    server = f"{settings.mail.smtp_host}:{settings.mail.smtp_port}"
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(
        error.__context__, TimeoutError
    ):
        # smtplib reports a reply that never came as a disconnection, raised from the timeout.
        error = error.__context__
    for explain in (_network_failure, _tls_failure, _smtp_failure):
        failure = explain(error, server, settings)
        if failure is not None:
            return failure
    return None


def explainer(settings: Settings) -> Callable[[Exception], str | None]:
    """Return what Outbox.explain_failures takes: an error's sentence, or None."""

    def explain(error: Exception) -> str | None:
        failure = diagnose(error, settings)
        return None if failure is None else failure.sentence

    return explain


def _network_failure(error: BaseException, server: str, settings: Settings) -> MailFailure | None:
    if isinstance(error, socket.gaierror):
        return MailFailure(
            "dns",
            f"the mail server's name {settings.mail.smtp_host} cannot be resolved (DNS): "
            "check USERAUTH_SMTP_HOST.",
        )
    if isinstance(error, ConnectionRefusedError):
        return MailFailure(
            "connection_refused",
            f"nothing accepts connections at {server} (connection refused): check "
            "USERAUTH_SMTP_HOST and USERAUTH_SMTP_PORT, and that the mail server runs.",
        )
    if isinstance(error, TimeoutError):
        # A port that expects TLS from the start waits for the client to speak first, while
        # a plain SMTP client waits for its greeting: both wait until the timeout.
        fix = (
            "check USERAUTH_SMTP_HOST and USERAUTH_SMTP_PORT"
            if settings.mail.smtp_tls == "ssl"
            else f"if the port expects TLS from the start (usually {IMPLICIT_TLS_PORT}), set "
            "USERAUTH_SMTP_TLS=ssl"
        )
        return MailFailure(
            "timeout",
            f"{server} did not answer in time: a firewall may drop the connection; {fix}.",
        )
    return None


def _tls_failure(error: BaseException, server: str, settings: Settings) -> MailFailure | None:
    if isinstance(error, ssl.SSLCertVerificationError):
        return MailFailure(
            "certificate",
            f"the certificate of {server} is not trusted ({error.verify_message}): set "
            "USERAUTH_SMTP_HOST to the name on its certificate, or add its authority to this "
            "machine's trust store.",
        )
    if isinstance(error, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(error):
        return MailFailure(
            "no_starttls",
            f"{server} does not offer STARTTLS: set USERAUTH_SMTP_TLS=ssl if the port expects "
            f"TLS from the start (usually {IMPLICIT_TLS_PORT}), or USERAUTH_SMTP_TLS=none for a "
            "relay on this machine or a trusted network.",
        )
    if isinstance(error, ssl.SSLError):
        detail = error.reason or type(error).__name__
        if settings.mail.smtp_tls == "ssl":
            fix = (
                "the port does not start with TLS; set USERAUTH_SMTP_TLS=starttls (usually "
                f"port {SUBMISSION_PORT})"
            )
        else:
            fix = "check the mail server's TLS set-up, or USERAUTH_SMTP_TLS and its port"
        return MailFailure(
            "tls_handshake", f"the TLS handshake with {server} failed ({detail}): {fix}."
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return MailFailure(
            "disconnected",
            f"{server} closed the connection before the mail was sent: check "
            f"USERAUTH_SMTP_PORT and USERAUTH_SMTP_TLS ({IMPLICIT_TLS_PORT} is usually ssl, "
            f"{SUBMISSION_PORT} starttls).",
        )
    return None


def _smtp_failure(error: BaseException, server: str, settings: Settings) -> MailFailure | None:
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return MailFailure(
            "no_auth",
            f"{server} offers no login (AUTH) on this connection: unset USERAUTH_SMTP_USER "
            "and USERAUTH_SMTP_PASSWORD, or set USERAUTH_SMTP_TLS=starttls or ssl (most "
            "servers offer a login only over TLS).",
        )
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return MailFailure(
            "login_refused",
            f"{server} refused the login (SMTP {error.smtp_code}): check USERAUTH_SMTP_USER "
            "and USERAUTH_SMTP_PASSWORD.",
        )
    if isinstance(error, smtplib.SMTPSenderRefused):
        return MailFailure(
            "sender_refused",
            f"{server} refused the sender (SMTP {error.smtp_code}): set USERAUTH_MAIL_FROM to "
            "an address this server lets userauth send from.",
        )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        return MailFailure(
            "recipient_refused",
            f"{server} refused the recipient (SMTP {', '.join(map(str, codes))}): the address "
            "may not exist, or the server does not relay to it for this sender or login.",
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return MailFailure(
            "rejected",
            f"{server} answered SMTP {error.smtp_code} and did not take the mail: its log "
            "says why.",
        )
    if isinstance(error, OSError):
        return MailFailure(
            "unreachable",
            f"cannot reach {server} ({error.strerror or type(error).__name__}): check the "
            "network between this machine and the mail server.",
        )
    return None
