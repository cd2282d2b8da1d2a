"""Accounts: registration, the one look-up by email, and what sign-up may reveal."""

from __future__ import annotations

from datetime import datetime

from userauth import emails, passwords
from userauth.audit import NO_CLIENT, Client
from userauth.db import DB
from userauth.errors import EmailTakenError
from userauth.mail import Mailer, require_mailer, send_mail, signup_notice
from userauth.models import User
from userauth.outbox import MailJob, Outbox
from userauth.settings import Settings

# The outbox job that tells an account's owner someone tried to register their email.
ACCOUNT_EXISTS_MAIL = "account_exists"
# Its twin for a sign-up that made a new account: no mail, but the same talk with the mail
# server, so that nothing observable (the outbox's metrics above all) tells the two apart.
ACCOUNT_CREATED_MAIL = "account_created"


class Accounts:
    """Create accounts and find them; a disabled account is found only by administrators."""

    def __init__(self, db: DB, settings: Settings, outbox: Outbox, mailer: Mailer | None) -> None:
        self._db = db
        self._settings = settings
        self._outbox = outbox
        self._mailer = mailer
        outbox.handle(ACCOUNT_EXISTS_MAIL, self._notify_account_exists)
        outbox.handle(ACCOUNT_CREATED_MAIL, self._probe_mail_server)

    def register(self, email: str, password: str) -> User:
        """Create an account and return it.

        Raises:
            EmailTakenError: the email already has an account (a ValueError).
            InvalidEmailError: the email is malformed.
            PasswordPolicyError: the password breaks the policy.
        """
        normalized, hashed = self._prepare(email, password)
        # No look-up first: the unique index decides, so concurrent sign-ups cannot both win.
        try:
            return self._db.add_user(normalized, hashed)
        except EmailTakenError:
            raise EmailTakenError(email) from None

    def register_invited(
        self, email: str, password: str, verified_at: datetime, *, spend: int
    ) -> User | None:
        """Create an account whose address counts as verified from `verified_at`, spending
        the invitation `spend` in the same transaction; None if it was spent meanwhile.

        Raises:
            EmailTakenError, InvalidEmailError, PasswordPolicyError: as `register`.
        """
        normalized, hashed = self._prepare(email, password)
        try:
            return self._db.add_invited_user(normalized, hashed, verified_at, spend=spend)
        except EmailTakenError:
            raise EmailTakenError(email) from None

    def _prepare(self, email: str, password: str) -> tuple[str, bytes]:
        """Return the email as stored and the password's hash, after the policy's checks."""
        normalized = emails.normalize(email)
        passwords.check_policy(password, email=normalized, strict=self._settings.is_production)
        return normalized, passwords.hash_password(password, self._settings.security.bcrypt_rounds)

    def sign_up(self, email: str, password: str, asker: Client = NO_CLIENT) -> User | None:
        """Register an account and return it, answering a taken email as the environment allows.

        The mail a sign-up queues is written in the `asker`'s language.

        Returns None, in production only, for a taken email: its owner is told by email.

        Raises:
            EmailTakenError: the email has an account, in development only.
            InvalidEmailError, PasswordPolicyError: as `register`.
        """
        try:
            user = self.register(email, password)
        except EmailTakenError:
            if not self._settings.is_production:
                raise
            # Production answers as if created and tells the owner by email instead, so the
            # sign-up form does not reveal which emails are registered (SPEC.md C3).
            # The look-up and the mail happen after the answer, out of the job the request
            # queues: a taken email costs the same as a new one (enumeration by timing).
            # The stored form: it fits the job's column, where the given one may not.
            self._outbox.enqueue(
                ACCOUNT_EXISTS_MAIL, emails.normalize(email), asker.language_only()
            )
            return None
        if self._settings.is_production and not self._settings.accounts.verifies_email:
            # With verification on, the new account's job is its link (verification.py).
            # A new account queues a job too: the outbox's gauges and counters (pending mail,
            # failed sends during a mail outage) move alike for a new email and a taken one,
            # so /metrics does not tell them apart (issue 21, item 9).
            self._outbox.enqueue(ACCOUNT_CREATED_MAIL, user.email, asker.language_only())
        return user

    def find(self, email: str | None) -> User | None:
        """Return the enabled account with this email, or None.

        A disabled account is treated as an unknown email by every flow (login, reset,
        sessions): it must not be a way back in, nor reveal itself.
        """
        return self._lookup(email, enabled_only=True)

    def find_any(self, email: str | None) -> User | None:
        """Return the account with this email, enabled or not (administration only)."""
        return self._lookup(email, enabled_only=False)

    def find_enabled_by_id(self, user_id: int) -> User | None:
        """Return the enabled account with this id, or None."""
        return self._db.find_enabled_user(user_id)

    def upgrade_hash(self, user: User, password: str) -> None:
        """Hash the password again at the configured cost, in its normalised form, unless
        the stored hash changed meanwhile (a concurrent reset must not be undone)."""
        upgraded = passwords.hash_password(password, self._settings.security.bcrypt_rounds)
        self._db.upgrade_password_hash(user.id, user.hashed_password, upgraded)

    def _lookup(self, email: str | None, *, enabled_only: bool) -> User | None:
        # Answered here: PostgreSQL would refuse a NUL or a lone surrogate in the query.
        if email is None or emails.names_no_account(email):
            return None
        return self._db.find_user_by_email(email, enabled_only=enabled_only)

    def _notify_account_exists(self, job: MailJob) -> None:
        user = self.find(job.email)
        mailer = require_mailer(self._mailer)
        if user is None:
            mailer.probe(job.email)  # deleted meanwhile: fail or succeed as a notice would
            return
        send_mail(mailer, user.email, signup_notice(self._settings, job.client.accept_language))

    def _probe_mail_server(self, job: MailJob) -> None:
        require_mailer(self._mailer).probe(job.email)
