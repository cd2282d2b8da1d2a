"""`userauth mail test` and the outbox's failure line: each real SMTP failure, one sentence
with its fix. Every failure comes from a real server the test starts: aiosmtpd configured to
refuse, a closed port, a port that never answers."""

from __future__ import annotations

import logging
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from tests.conftest import free_port
from tests.smtp import MailSink, ServiceFactory
from tests.test_outbox import outbox_lines

MAIL_TEST = [sys.executable, "-m", "userauth", "mail", "test"]
RECIPIENT = "someone@example.com"
SMTP_USER = "mailer-login@example.com"
SMTP_PASSWORD = "correct horse battery staple"
# A name no resolver knows (RFC 6761: .invalid is never delegated).
UNRESOLVABLE_HOST = "smtp.userauth-test.invalid"
# The CLI's wait for each answer, turned down from its 10 s default.
TEST_TIMEOUT_SECONDS = "0.5"


class Refusing:
    """An aiosmtpd handler that refuses the sender or the recipient, as a real server would."""

    def __init__(self, *, sender: bool = False, recipient: bool = False) -> None:
        self._sender, self._recipient = sender, recipient

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self._sender:
            return "553 5.7.1 <userauth@example.com>: Sender address rejected: not owned by user"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self._recipient:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 Message accepted for delivery"


def refuse_every_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False)


@contextmanager
def smtp_server(handler: object, **smtp_options: Any) -> Iterator[int]:
    """Run aiosmtpd on 127.0.0.1 with these SMTP options; yield its port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    server_log = logging.getLogger("mail.log")
    level = server_log.level
    server_log.setLevel(logging.ERROR)  # aiosmtpd logs every command, and refused logins
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        server_log.setLevel(level)


@contextmanager
def silent_port() -> Iterator[int]:
    """Yield a port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """Return a server TLS context with a certificate no authority signed."""
    key, certificate = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


def mail_test(port: int, host: str = "127.0.0.1", **env: str) -> subprocess.CompletedProcess[str]:
    """Run `userauth mail test RECIPIENT` against host:port; keywords are environment."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("USERAUTH_")},
        "USERAUTH_SMTP_HOST": host,
        "USERAUTH_SMTP_PORT": str(port),
        "USERAUTH_MAIL_FROM": "userauth@example.com",
        **env,
    }
    return subprocess.run(
        [*MAIL_TEST, "--timeout", TEST_TIMEOUT_SECONDS, RECIPIENT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass(frozen=True)
class Failure:
    """A way the SMTP conversation fails, and what the one sentence must say."""

    server: str  # which server the case starts
    env: dict[str, str]
    says: str  # what happened
    fix: str  # the setting that fixes it, as the sentence names it


LOGIN = {"USERAUTH_SMTP_USER": SMTP_USER, "USERAUTH_SMTP_PASSWORD": SMTP_PASSWORD}
PLAIN = {"USERAUTH_SMTP_TLS": "none"}
FAILURES = {
    "connection-refused": Failure(
        "closed", {}, "(connection refused)", "check USERAUTH_SMTP_HOST and USERAUTH_SMTP_PORT"
    ),
    "timeout": Failure("silent", {}, "did not answer in time", "set USERAUTH_SMTP_TLS=ssl"),
    "no-starttls": Failure(
        "plain", {}, "does not offer STARTTLS", "USERAUTH_SMTP_TLS=none for a relay"
    ),
    "plain-port-as-ssl": Failure(
        "plain",
        {"USERAUTH_SMTP_TLS": "ssl"},
        "the TLS handshake with",
        "set USERAUTH_SMTP_TLS=starttls",
    ),
    "untrusted-certificate": Failure(
        "self-signed", {}, "is not trusted (self-signed certificate)", "USERAUTH_SMTP_HOST"
    ),
    "login-refused": Failure(
        "refusing-logins",
        {**PLAIN, **LOGIN},
        "refused the login (SMTP 535)",
        "check USERAUTH_SMTP_USER and USERAUTH_SMTP_PASSWORD",
    ),
    "no-login-offered": Failure(
        "plain", {**PLAIN, **LOGIN}, "offers no login (AUTH)", "set USERAUTH_SMTP_TLS=starttls"
    ),
    "sender-refused": Failure(
        "refusing-sender", PLAIN, "refused the sender (SMTP 553)", "set USERAUTH_MAIL_FROM"
    ),
    "recipient-refused": Failure(
        "refusing-recipient", PLAIN, "refused the recipient (SMTP 550)", "the address may not"
    ),
    "dns": Failure("unresolvable", {}, "cannot be resolved (DNS)", "check USERAUTH_SMTP_HOST"),
}


@contextmanager
def server_for(kind: str, folder: Path) -> Iterator[int]:
    """Start the server a Failure names; yield its port."""
    if kind in ("closed", "unresolvable"):
        yield free_port()
    elif kind == "silent":
        with silent_port() as port:
            yield port
    elif kind == "self-signed":
        with smtp_server(Refusing(), tls_context=self_signed_context(folder)) as port:
            yield port
    elif kind == "refusing-logins":
        with smtp_server(
            Refusing(), authenticator=refuse_every_login, auth_require_tls=False
        ) as port:
            yield port
    else:
        refusals = {"refusing-sender": {"sender": True}, "refusing-recipient": {"recipient": True}}
        with smtp_server(Refusing(**refusals.get(kind, {}))) as port:
            yield port


class TestMailTest:
    @pytest.mark.parametrize("case", FAILURES.values(), ids=FAILURES.keys())
    def test_a_failure_is_one_sentence_saying_what_happened_and_the_fix(
        self, case: Failure, tmp_path: Path
    ) -> None:
        with server_for(case.server, tmp_path) as port:
            host = UNRESOLVABLE_HOST if case.server == "unresolvable" else "127.0.0.1"
            finished = mail_test(port, host, **case.env)

        assert finished.returncode == 1, finished.stderr
        server_line, error, *rest = finished.stderr.splitlines()
        assert server_line.startswith(f"mail server: {host}:{port} (USERAUTH_SMTP_TLS=")
        assert rest == []
        assert error.startswith("Error: no mail sent: ")
        assert case.says in error
        assert case.fix in error
        assert error.endswith(".")
        # The sentence is the one the outbox logs: no secret, no address, no reply text.
        for private in (SMTP_PASSWORD, SMTP_USER, RECIPIENT, "rejected", "User unknown"):
            assert private not in error

    def test_a_mail_the_server_accepts_is_delivered_and_said_so(self, mail: MailSink) -> None:
        finished = mail_test(mail.port, **PLAIN)

        assert finished.returncode == 0, finished.stderr
        assert finished.stdout.startswith(f"Sent a test mail to {RECIPIENT}: 127.0.0.1:")
        [received] = mail.wait_for(RECIPIENT)
        assert received.message["Subject"] == "userauth test message"

    def test_without_a_mail_server_set_it_says_which_setting_is_missing(self) -> None:
        finished = mail_test(free_port(), USERAUTH_SMTP_HOST="")

        assert finished.returncode == 2
        assert finished.stderr.startswith("Error: USERAUTH_SMTP_HOST is not set")

    def test_a_malformed_address_is_a_usage_error(self) -> None:
        finished = subprocess.run(
            [*MAIL_TEST, "not-an-address"],
            env={**os.environ, "USERAUTH_SMTP_HOST": "127.0.0.1"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert finished.returncode == 2
        assert finished.stderr.startswith("Error: Invalid value for 'ADDRESS': email is not")


class TestOutboxFailureLine:
    def test_a_failed_send_logs_the_same_sentence_without_the_recipient(
        self, make_service: ServiceFactory, mail: MailSink, caplog: pytest.LogCaptureFixture
    ) -> None:
        # The sink speaks plain SMTP; asked for STARTTLS, every send fails the same way.
        starttls = replace(mail.production_mail(), smtp_tls="starttls")
        service = make_service("production", starttls)
        service.auth.register_user(RECIPIENT, "a long enough password")
        with caplog.at_level(logging.WARNING, logger="userauth.outbox"):
            service.client.post("/reset_password", data={"email": RECIPIENT})
            service.outbox.join()
        [line] = outbox_lines(caplog)

        assert "failed on attempt 1: SMTPNotSupportedError: 127.0.0.1:" in line
        assert "does not offer STARTTLS: set USERAUTH_SMTP_TLS=ssl" in line
        assert RECIPIENT not in line
