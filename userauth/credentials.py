"""Credentials: logging in with a password (the one login operation), and changing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from userauth import passwords
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.db import DB, LiveSession
from userauth.errors import WrongPasswordError
from userauth.factors import password as password_factor
from userauth.login_transactions import LoginTransactions
from userauth.models import User
from userauth.second_factors import SecondFactors
from userauth.sessions import Sessions
from userauth.settings import Settings
from userauth.verification import EmailVerification


class LoginOutcome(Enum):
    """How a login ended. Rate limits, the audit and metrics read this, not HTTP statuses."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The password was right, the account has a second factor: a pending login, no session.
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    # Every factor was right, but USERAUTH_EMAIL_VERIFICATION=required and the address is
    # not verified: no session; a fresh link is mailed (verification.py).
    EMAIL_NOT_VERIFIED = "email_not_verified"


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt gives the caller: an outcome, and a session id on success, or a
    pending login's challenge and the factors that may complete it."""

    outcome: LoginOutcome
    session_id: str | None = field(default=None, repr=False)
    challenge: str | None = field(default=None, repr=False)
    factors: tuple[str, ...] = ()
    # The account's email, when a second step completed the login.
    email: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is LoginOutcome.SUCCEEDED


FAILED = LoginResult(LoginOutcome.FAILED)


class Credentials:
    """Check passwords at login and change them."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        accounts: Accounts,
        sessions: Sessions,
        audit: Audit,
        transactions: LoginTransactions,
        second_factors: SecondFactors,
        verification: EmailVerification,
    ) -> None:
        self._db = db
        self._settings = settings
        self._accounts = accounts
        self._sessions = sessions
        self._audit = audit
        self._transactions = transactions
        self._second = second_factors
        self._verification = verification

    def login(self, email: str, password: str, client: Client = NO_CLIENT) -> LoginResult:
        """Check the password of the enabled account with this email; start a session, or a
        pending login when the account has a second factor (login_transactions.py).

        The account is looked up once; the session is made only if the account's credential
        version is still the one read with the checked hash when the session is written, so
        a login that overlaps a reset or change of the password cannot outlive it.
        """
        checked = self._verify(email, password, client)
        if checked is None:
            return FAILED
        user, stale = checked
        factors = self._second.of(user.id)
        if factors:
            if stale:
                self._accounts.upgrade_hash(user, password)
            challenge = self._transactions.begin(user, (password_factor.AMR,))
            self._audit.record("second_factor_required", user.id, client)
            return LoginResult(
                LoginOutcome.SECOND_FACTOR_REQUIRED, challenge=challenge, factors=factors
            )
        if self._verification.refuses(user, client):
            if stale:
                self._accounts.upgrade_hash(user, password)
            return LoginResult(LoginOutcome.EMAIL_NOT_VERIFIED)
        session_id = self._sessions.start(user, client=client)
        if session_id is None:
            # The password changed (or the account was disabled) while it was checked.
            self._audit.record("login_failed", user.id, client)
            return FAILED
        if stale:
            self._accounts.upgrade_hash(user, password)
        self._audit.record("login", user.id, client)
        return LoginResult(LoginOutcome.SUCCEEDED, session_id)

    def check(self, email: str, password: str, client: Client = NO_CLIENT) -> User | None:
        """Return the enabled account if the password is its own, else None (recorded)."""
        checked = self._verify(email, password, client)
        if checked is None:
            return None
        user, stale = checked
        if stale:
            self._accounts.upgrade_hash(user, password)
        return user

    def _verify(self, email: str, password: str, client: Client) -> tuple[User, bool] | None:
        """Return the account and whether its hash is stale, or None (recorded as failed).

        Stale: made at a lower cost than configured, or before passwords were normalised.
        """
        user = self._accounts.find(email)
        if user is None:
            # Hash anyway: an unknown email must cost as much as a wrong password
            # (user enumeration by timing).
            passwords.burn_verify_time(self._settings.security.bcrypt_rounds, password)
            self._audit.record("login_failed", None, client)
            return None
        if not passwords.is_set(user.hashed_password):
            # An account with a passkey alone: no password is right, at a password's cost.
            passwords.burn_verify_time(self._settings.security.bcrypt_rounds, password)
            self._audit.record("login_failed", user.id, client)
            return None
        match = passwords.check(password, user.hashed_password)
        if match is passwords.Match.NONE:
            self._audit.record("login_failed", user.id, client)
            return None
        stale = match is passwords.Match.LEGACY or passwords.needs_rehash(
            user.hashed_password, self._settings.security.bcrypt_rounds
        )
        return user, stale

    def change(
        self, live: LiveSession, current: str, new: str, client: Client = NO_CLIENT
    ) -> None:
        """Change the password of a logged-in user; other sessions end, this one stays.

        Raises:
            WrongPasswordError: the current password does not match.
            PasswordPolicyError: the new password breaks the policy.
        """
        user = live.user
        if not passwords.verify(current, user.hashed_password):
            raise WrongPasswordError
        self._replace(live, new, client)

    def set_first(self, live: LiveSession, new: str, client: Client = NO_CLIENT) -> None:
        """Give a password to an account that has none (made with a passkey alone); other
        sessions end, this one stays.

        The caller checks the session's recent authentication first (Auth.set_password):
        it stands for the current password there is none of.

        Raises:
            WrongPasswordError: the account has a password already (change it with it).
            PasswordPolicyError: the new password breaks the policy.
        """
        if passwords.is_set(live.user.hashed_password):
            raise WrongPasswordError
        self._replace(live, new, client)

    def _replace(self, live: LiveSession, new: str, client: Client) -> None:
        user = live.user
        self._db.replace_password(user.id, self.new_hash(user, new), keep_session=live.id)
        self._audit.record("password_changed", user.id, client)

    def new_hash(self, user: User, password: str) -> bytes:
        """Return the hash of a new password for this user.

        Raises:
            PasswordPolicyError: the password breaks the policy.
        """
        passwords.check_policy(password, email=user.email, strict=self._settings.is_production)
        return passwords.hash_password(password, self._settings.security.bcrypt_rounds)
