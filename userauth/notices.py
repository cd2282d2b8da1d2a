"""Security notices: mail telling an account's owner something happened to its security.

Queued in the outbox (a job naming the user, the notice's kind as payload), sent when mail is
configured; without mail (development) the audit trail alone keeps the event.
"""

from __future__ import annotations

from userauth import languages, mail_templates
from userauth.audit import Client
from userauth.mail import Mailer, require_mailer, send_mail
from userauth.mail_templates import N_
from userauth.models import User
from userauth.outbox import MailJob, Outbox
from userauth.settings import Settings

SECURITY_NOTICE_MAIL = "security_notice"

# What each notice tells the owner (the payload names one).
MESSAGES = {
    "recovery_code_used": (
        N_("A recovery code was used"),
        N_(
            "One of your recovery codes was just used to log in to your account. If this was "
            "not you, change your password and create new recovery codes now."
        ),
    ),
    "email_change_requested": (
        N_("A change of your email address was asked for"),
        N_(
            "Someone logged in to your account asked to move it to another email address. The "
            "change happens only if the link sent to the new address is used. If this was not "
            "you, change your password now: your current address stays until then."
        ),
    ),
    "account_deleted": (
        N_("Your account was deleted"),
        N_(
            "Your account and everything stored with it were deleted at your request; this "
            "address is no longer known to us, but in a digest in our security log. If this was "
            "not you, someone had your password: sign up again and use a new password elsewhere "
            "too."
        ),
    ),
    "second_factor_locked": (
        N_("Wrong two-factor codes: your password may be known"),
        N_(
            "Someone entered your password correctly and then too many wrong two-factor codes, "
            "so logging in to your account with a code is blocked for 15 minutes. If this was "
            "not you, your password is known to someone else: change it now."
        ),
    ),
    "factors_reset": (
        N_("Your two-factor authentication was removed"),
        N_(
            "An administrator removed the two-factor authentication of your account. Log in with "
            "your password and enable it again. If you did not ask for this, contact them."
        ),
    ),
}


class Notices:
    """Queue security notices; the outbox sends them."""

    def __init__(self, outbox: Outbox, mailer: Mailer | None, settings: Settings) -> None:
        self._settings = settings
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

    def send_to_address(self, email: str, kind: str, client: Client) -> None:
        """Queue the notice of this kind to an address whose account is gone (the job names
        no account: nothing of it is left in the database but this mail, until it is sent)."""
        if self._mailer is None:
            return
        self._outbox.enqueue(SECURITY_NOTICE_MAIL, email, client, payload=kind)

    def _send(self, job: MailJob) -> None:
        subject, sentence = MESSAGES[job.payload or ""]
        accept_language = job.client.accept_language
        language = mail_templates.language_of(self._settings, accept_language)
        translated = languages.translations(language, self._settings.web.templates_dir)
        message = mail_templates.render(
            self._settings,
            "notice",
            subject,
            accept_language,
            message=translated.gettext(sentence),
        )
        send_mail(require_mailer(self._mailer), job.email, message)
