"""Helpers of the account lifecycle's tests: services that mail to the test's SMTP sink,
and the tokens of the links they mail."""

from __future__ import annotations

import re
from urllib.parse import unquote

from flask.testing import FlaskClient

from tests.smtp import MailSink, ReceivedMail, Service
from userauth.settings import MailSettings

EMAIL = "lea@example.com"
OTHER = "max@example.com"
PASSWORD = "lea's long enough password"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_LINK = re.compile(r"(https?://\S+?[?&]token=([A-Za-z0-9_%.~-]+))")


def mail_to(mail: MailSink) -> MailSettings:
    """Development's mail settings, sending to the test's SMTP sink."""
    return MailSettings(smtp_host="127.0.0.1", smtp_port=mail.port, smtp_tls="none")


def link_in(message: ReceivedMail) -> tuple[str, str]:
    """Return the link a mail carries and its token."""
    found = _LINK.search(message.body)
    assert found is not None, message.body
    return found.group(1), unquote(found.group(2))


def mails_with(mail: MailSink, address: str, subject: str) -> list[ReceivedMail]:
    """Return the mails to `address` whose subject is `subject`."""
    return [m for m in mail.to(address) if str(m.message["Subject"]) == subject]


def token_mailed(
    service: Service, mail: MailSink, address: str, subject: str, count: int = 1
) -> str:
    """Send what the service's outbox holds; return the token of the `count`-th mail to
    `address` with this subject (asserting there are exactly `count`)."""
    service.outbox.join()
    mail.wait_for(address, count)
    found = mails_with(mail, address, subject)
    assert len(found) == count, [str(m.message["Subject"]) for m in mail.to(address)]
    return link_in(found[-1])[1]


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)
    return found.group(1)
