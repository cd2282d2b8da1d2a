"""Security notices: mail telling an account's owner something happened to its security.

Queued in the outbox (a job naming the user, the notice's kind as payload), sent when mail is
configured; without mail (development) the audit trail alone keeps the event.
"""

from __future__ import annotations

from userauth.audit import Client
from userauth.mail import Mailer, require_mailer
from userauth.models import User
from userauth.outbox import MailJob, Outbox

SECURITY_NOTICE_MAIL = "security_notice"

# What each notice tells the owner (the payload names one).
MESSAGES = {
    "recovery_code_used": (
        "A recovery code was used",
        "One of your recovery codes was just used to log in to your account. If this was "
        "not you, change your password and create new recovery codes now.",
    ),
    "second_factor_locked": (
        "Wrong two-factor codes: your password may be known",
        "Someone entered your password correctly and then too many wrong two-factor codes, "
        "so logging in to your account with a code is blocked for 15 minutes. If this was "
        "not you, your password is known to someone else: change it now.",
    ),
    "factors_reset": (
        "Your two-factor authentication was removed",
        "An administrator removed the two-factor authentication of your account. Log in with "
        "your password and enable it again. If you did not ask for this, contact them.",
    ),
}


class Notices:
    """Queue security notices; the outbox sends them."""

    def __init__(self, outbox: Outbox, mailer: Mailer | None) -> None:
        self._outbox = outbox
        self._mailer = mailer
        outbox.handle(SECURITY_NOTICE_MAIL, self._send)

    def send(self, user: User, kind: str, client: Client) -> None:
        """Queue the notice of this kind (a key of MESSAGES) to the user, if mail is set up."""
        if self._mailer is None:
            return
        self._outbox.enqueue(
            SECURITY_NOTICE_MAIL, user.email, client, user_id=user.id, payload=kind
        )

    def _send(self, job: MailJob) -> None:
        subject, body = MESSAGES[job.payload or ""]
        require_mailer(self._mailer).send(job.email, subject, body)
