"""Email verification: mailing a link that proves an address belongs to its account's
owner, and spending it (docs/account-lifecycle.md).

The link's token is a one-time secret of purpose `email_verification`, bound to the account
and to the address it was mailed to (its payload holds the address's key): a token for one
address never verifies another, and a change of address voids it. It is issued when the mail
is sent, never held in clear by the outbox (as reset links are), lives 24 hours, and only a
POST spends it: a mail scanner that follows the link verifies nothing (the page has a button).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from userauth import emails
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.db import DB
from userauth.errors import InvalidLinkError, InvalidTokenError
from userauth.lifecycle_mail import verification_message
from userauth.mail import Mailer, require_mailer, send_mail
from userauth.models import User
from userauth.one_time import OneTimeSecrets, Purpose
from userauth.outbox import MailJob, Outbox
from userauth.settings import Settings

# The outbox job that mails a verification link: it names the account, never a token.
VERIFICATION_MAIL = "email_verification"
# A fresh link is mailed at most this often per account, however many times it is asked for
# (a login refused for want of one, POST /email/verification): OWASP ASVS 4.0.3 V2.2.1.
RESEND_INTERVAL = timedelta(minutes=5)


class EmailVerification:
    """Mail verification links and mark addresses verified when one is used."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        accounts: Accounts,
        secrets: OneTimeSecrets,
        audit: Audit,
        outbox: Outbox,
        mailer: Mailer | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = settings
        self._accounts = accounts
        self._secrets = secrets
        self._audit = audit
        self._outbox = outbox
        self._mailer = mailer
        self._clock = clock
        outbox.handle(VERIFICATION_MAIL, self._mail_link)

    def send_link(self, user: User, client: Client = NO_CLIENT) -> None:
        """Queue a verification link to the user's address (none when it is verified, or
        without mail: development without SMTP keeps only the audit event)."""
        if user.email_verified:
            return
        self._audit.record("email_verification_requested", user.id, client)
        if self._mailer is None:
            return
        self._outbox.enqueue(
            VERIFICATION_MAIL,
            user.email,
            client,
            user_id=user.id,
            payload=emails.lookup_key(user.email),
        )

    def on_sign_up(self, user: User, client: Client = NO_CLIENT) -> None:
        """Mail the first link to a new account, unless verification is off.

        In production this job is the new account's one mail job, as a taken email's notice
        is the other's (accounts.py): the outbox's metrics do not tell them apart.
        """
        if self._settings.accounts.verifies_email and self._mailer is not None:
            key = emails.lookup_key(user.email)
            self._outbox.enqueue(
                VERIFICATION_MAIL, user.email, client, user_id=user.id, payload=key
            )

    @property
    def is_on(self) -> bool:
        """Whether new accounts are mailed a link (USERAUTH_EMAIL_VERIFICATION is not off)."""
        return self._settings.accounts.verifies_email

    def admits(self, user: User) -> bool:
        """Tell whether the account may hold a session: its address is verified, or
        verification is not required. Unlike `refuses`, nothing is mailed or audited."""
        return user.email_verified or not self._settings.accounts.requires_verified_email

    def refuses(self, user: User, client: Client = NO_CLIENT) -> bool:
        """Tell whether a fully authenticated user is refused a session: verification is
        required and the address is not verified. A fresh link is then on its way (spaced
        by RESEND_INTERVAL) and the refusal is in the audit trail."""
        if self.admits(user):
            return False
        self._audit.record("login_unverified", user.id, client)
        self.send_link(user, client)
        return True

    def verify(self, token: str | None, client: Client = NO_CLIENT) -> User:
        """Spend a verification token: its account's address counts as verified from now.

        The account is the token's, whoever asks (a link opened while logged in as someone
        else changes nothing of theirs).

        Raises:
            InvalidLinkError: unknown, spent, expired, another purpose's, of a disabled or
                deleted account, or mailed to an address the account no longer has.
        """
        try:
            secret = self._secrets.redeem(token, Purpose.EMAIL_VERIFICATION)
        except InvalidTokenError:
            raise InvalidLinkError from None
        user = self._owner(secret.user_id, secret.payload)
        if user is None:
            raise InvalidLinkError
        key = emails.lookup_key(user.email)
        if not self._db.mark_email_verified(user.id, key, self._clock(), spend=secret.id):
            raise InvalidLinkError  # another request spent it, or the address changed
        self._audit.record("email_verified", user.id, client)
        return user

    def is_live(self, token: str | None) -> bool:
        """Tell whether `verify` would take this token, without spending it (the page)."""
        try:
            secret = self._secrets.redeem(token, Purpose.EMAIL_VERIFICATION)
        except InvalidTokenError:
            return False
        return self._owner(secret.user_id, secret.payload) is not None

    def _owner(self, user_id: int | None, key: str | None) -> User | None:
        # Bound to purpose (redeem), account and address: the payload is the key of the
        # address the link was mailed to, which must still be the account's.
        user = None if user_id is None else self._accounts.find_enabled_by_id(user_id)
        if user is None or key is None or emails.lookup_key(user.email) != key:
            return None
        return user

    def _mail_link(self, job: MailJob) -> None:
        mailer = require_mailer(self._mailer)
        user = None if job.user_id is None else self._accounts.find_enabled_by_id(job.user_id)
        if (
            user is None
            or user.email_verified
            or emails.lookup_key(user.email) != job.payload
            or self._recently_sent(user)
        ):
            mailer.probe(job.email)  # nothing to send: the same talk with the server
            return
        lifetime = self._settings.accounts.verification_lifetime
        token = self._secrets.issue(
            user.id, Purpose.EMAIL_VERIFICATION, lifetime, payload=job.payload, replace=True
        )
        hours = int(lifetime.total_seconds() // 3600)
        message = verification_message(self._settings, token, hours, job.client.accept_language)
        send_mail(mailer, user.email, message)

    def _recently_sent(self, user: User) -> bool:
        lifetime = self._settings.accounts.verification_lifetime
        # A secret expiring later than this was issued within RESEND_INTERVAL.
        since = self._clock() + lifetime - RESEND_INTERVAL
        return self._secrets.issued_after(user.id, Purpose.EMAIL_VERIFICATION, since)
