"""Password resets: issuing a reset token, what the answer may reveal, and spending it."""

from __future__ import annotations

from dataclasses import dataclass, field

from userauth import emails
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.credentials import Credentials
from userauth.db import DB
from userauth.enrolment import Enrolment
from userauth.errors import InvalidTokenError, UnknownEmailError
from userauth.mail import Mailer, require_mailer, reset_message, send_mail
from userauth.models import User
from userauth.one_time import OneTimeSecrets, Purpose
from userauth.outbox import MailJob, Outbox
from userauth.settings import Settings

# The outbox job that mails a reset link: it holds the email, never a token.
RESET_MAIL = "password_reset"


@dataclass(frozen=True)
class ResetRequest:
    """What the answer to a reset request may carry: the token in development, else nothing."""

    token: str | None = field(default=None, repr=False)


class Resets:
    """Reset a forgotten password with a one-time secret."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        accounts: Accounts,
        credentials: Credentials,
        enrolment: Enrolment,
        secrets: OneTimeSecrets,
        audit: Audit,
        outbox: Outbox,
        mailer: Mailer | None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._accounts = accounts
        self._credentials = credentials
        self._enrolment = enrolment
        self._secrets = secrets
        self._audit = audit
        self._outbox = outbox
        self._mailer = mailer
        outbox.handle(RESET_MAIL, self._mail_reset_link)

    def request(self, email: str, client: Client = NO_CLIENT) -> ResetRequest:
        """Start a reset: the token in the answer (development) or by email (production).

        Raises:
            UnknownEmailError: no enabled account has this email, in development only.
        """
        if not self._settings.is_production:
            return ResetRequest(token=self.issue(email, client))
        # Production: every request does the same work, appending one outbox job, and the
        # look-up, token and mail happen after the answer, so neither the body nor the
        # response time tells whether the email has an account (user enumeration). The
        # token travels only by email (account takeover by anyone who knows an email), and
        # is issued when the mail is sent: the outbox never holds one in clear.
        if emails.names_no_account(email):
            # No job: none could find an account, and the job's column could not hold it.
            # Skipping it tells only what the email itself shows (its length, a NUL).
            return ResetRequest()
        self._outbox.enqueue(RESET_MAIL, email.strip(), client)
        return ResetRequest()

    def issue(self, email: str, client: Client = NO_CLIENT) -> str:
        """Issue a reset token for the enabled account, replacing any older one; return it.

        Raises:
            UnknownEmailError: no enabled account has this email (a ValueError).
        """
        user = self._accounts.find(email)
        self._audit.record("reset_requested", None if user is None else user.id, client)
        if user is None:
            raise UnknownEmailError(email)
        return self._issue_for(user)

    def reset(
        self, email: str | None, token: str, password: str, client: Client = NO_CLIENT
    ) -> int:
        """Set a new password with a reset token; the token is spent, every session ends.
        Return the account's id.

        With `email`, the token must also belong to that email's account. The first reset of
        an account made by a passkey sign-up whose address nobody verified also removes its
        passkeys and second factors: the reset is the first proof that its address is the
        owner's, and they were added by whoever signed up in that address' name (account
        pre-hijacking: Sudhodanan and Paverd, 2022; OWASP ASVS 4.0.3 V2.5.6, a recovery must
        not leave an attacker's authenticators in place). A verified address keeps them: a
        reset never bypasses the second factor of an account its owner proved.

        Raises:
            InvalidTokenError: the token is not live, not this email's, or its account is
                disabled (a ValueError).
            PasswordPolicyError: the new password breaks the policy (the token stays live).
        """
        secret = self._secrets.redeem(token, Purpose.PASSWORD_RESET)
        user = (
            None if secret.user_id is None else self._accounts.find_enabled_by_id(secret.user_id)
        )
        if user is None:
            raise InvalidTokenError
        if email is not None and emails.lookup_key(user.email) != emails.lookup_key(email):
            raise InvalidTokenError
        hashed = self._credentials.new_hash(user, password)
        if not self._db.replace_password(user.id, hashed, spend=secret.id):
            raise InvalidTokenError  # another request spent it first
        self._audit.record("password_reset", user.id, client)
        if self._db.settle_unproven_signup(user.id) and not user.email_verified:
            self._enrolment.reset(user, client)
        return user.id

    def is_live(self, token: str | None) -> bool:
        """Tell whether `reset` would take this token (not unknown, spent, expired, or of a
        disabled account), without spending it: the reset page says so before the form."""
        try:
            secret = self._secrets.redeem(token, Purpose.PASSWORD_RESET)
        except InvalidTokenError:
            return False
        if secret.user_id is None:
            return False
        return self._accounts.find_enabled_by_id(secret.user_id) is not None

    def _issue_for(self, user: User) -> str:
        lifetime = self._settings.security.reset_token_lifetime
        # One live link per account: a new request supersedes the older link.
        return self._secrets.issue(user.id, Purpose.PASSWORD_RESET, lifetime, replace=True)

    def _mail_reset_link(self, job: MailJob) -> None:
        user = self._accounts.find(job.email)
        if job.first_attempt:
            self._audit.record("reset_requested", None if user is None else user.id, job.client)
        mailer = require_mailer(self._mailer)
        if user is None:
            # Nothing to send, but the same talk with the mail server: during a mail outage
            # the job fails, is retried and is counted in /metrics exactly as a registered
            # email's, which would otherwise be the one left pending (issue 21, item 9).
            mailer.probe(job.email)
            return
        # A retry issues a new token, which voids the one in any earlier, failed mail.
        token = self._issue_for(user)
        minutes = int(self._settings.security.reset_token_lifetime.total_seconds() // 60)
        message = reset_message(self._settings, token, minutes, job.client.accept_language)
        send_mail(mailer, user.email, message)
