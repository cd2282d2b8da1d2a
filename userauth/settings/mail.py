"""The mail settings: the SMTP server that sends reset links and notices, and the links."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from userauth.settings.reader import EnvironmentReader

SmtpTls = Literal["starttls", "ssl", "none"]
SMTP_TLS_MODES = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class MailSettings:
    """The SMTP server (production sends reset links by email), the sender and the links."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: SmtpTls = "starttls"
    sender: str = "userauth@localhost"
    reset_link_template: str = "http://localhost:5000/reset_password?token={token}"
    # The page where an owner asks for a reset, linked from the "account already exists"
    # notice; None: derived from reset_link_template when it is userauth's own (mail.py).
    forgot_link: str | None = None
    # The wait before a failed mail is tried again; it doubles with each failure.
    retry_delay: timedelta = timedelta(seconds=30)

    @classmethod
    def read(cls, reader: EnvironmentReader) -> MailSettings:
        """Read USERAUTH_SMTP_*, _MAIL_FROM, _RESET_LINK, _FORGOT_LINK, _MAIL_RETRY_SECONDS.

        Raises:
            SettingsError: a value of the wrong kind or range, a link without {token}.
        """
        return cls(
            smtp_host=reader.optional("USERAUTH_SMTP_HOST"),
            smtp_port=reader.integer(
                "USERAUTH_SMTP_PORT", cls.smtp_port, minimum=1, maximum=65535
            ),
            smtp_user=reader.optional("USERAUTH_SMTP_USER"),
            smtp_password=reader.optional("USERAUTH_SMTP_PASSWORD"),
            smtp_tls=_smtp_tls(reader.choice("USERAUTH_SMTP_TLS", SMTP_TLS_MODES, cls.smtp_tls)),
            sender=reader.text("USERAUTH_MAIL_FROM", cls.sender),
            reset_link_template=reader.link_template(
                "USERAUTH_RESET_LINK", cls.reset_link_template
            ),
            forgot_link=reader.link("USERAUTH_FORGOT_LINK"),
            retry_delay=timedelta(
                seconds=reader.integer("USERAUTH_MAIL_RETRY_SECONDS", 30, minimum=1, maximum=3600)
            ),
        )


def _smtp_tls(value: str) -> SmtpTls:
    if value == "ssl":
        return "ssl"
    return "none" if value == "none" else "starttls"
