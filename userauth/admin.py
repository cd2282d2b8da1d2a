"""Administration: the account operations behind the `userauth user` and `audit` commands.

The rules are the domain's: accounts are found by Accounts (disabled ones too, here only),
live sessions counted by Sessions, pending resets asked of OneTimeSecrets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from userauth.audit import Client
from userauth.auth import Auth
from userauth.clock import as_utc, utcnow
from userauth.emails import names_no_account
from userauth.errors import UnknownEmailError
from userauth.models import User
from userauth.one_time import Purpose

# How administrator actions appear on audit events (the CLI has no address).
ADMIN_CLIENT = Client(address="", user_agent="userauth admin")


@dataclass(frozen=True)
class UserSummary:
    """One line of the user list."""

    id: int
    email: str
    disabled_at: datetime | None


@dataclass(frozen=True)
class UserPage:
    """One page of the user list, and where it stands in the whole."""

    users: list[UserSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass(frozen=True)
class UserDetails:
    """What an administrator may see of an account: never a hash, token or session id."""

    id: int
    email: str
    disabled_at: datetime | None
    live_sessions: int
    reset_pending: bool


@dataclass(frozen=True)
class AuditEntry:
    """An audit event with the email of its account (None when no account was known)."""

    created_at: datetime
    event: str
    email: str | None
    client_address: str
    user_agent: str


class Admin:
    """Account administration through the Auth that applies the account rules."""

    def __init__(self, auth: Auth) -> None:
        self._auth = auth
        self._db = auth.db

    def create_user(self, email: str, password: str) -> User:
        """Create an account under the same rules as a sign-up.

        Raises:
            EmailTakenError, InvalidEmailError, PasswordPolicyError: as Auth.register_user.
        """
        user = self._auth.register_user(email, password)
        self._record("admin_user_created", user.id)
        return user

    def list_users(
        self, *, search: str | None = None, page: int = 1, per_page: int = 20
    ) -> UserPage:
        """Return one page of accounts by id, optionally those whose email contains `search`."""
        rows, total = self._db.list_users(
            search=search, limit=per_page, offset=(page - 1) * per_page
        )
        users = [UserSummary(user.id, user.email, _utc(disabled_at)) for user, disabled_at in rows]
        return UserPage(users=users, total=total, page=page, per_page=per_page)

    def show_user(self, email: str) -> UserDetails:
        """Describe one account.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self._require(email)
        return UserDetails(
            id=user.id,
            email=user.email,
            disabled_at=_utc(self._db.disabled_since(user.id)),
            live_sessions=self._auth.sessions.count_live(user.id),
            reset_pending=self._auth.secrets.is_pending(user.id, Purpose.PASSWORD_RESET),
        )

    def disable_user(self, email: str) -> int:
        """Disable an account: it cannot log in, every session and reset token ends.

        Return how many sessions ended.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self._require(email)
        ended = self._db.count_sessions(user.id)
        self._db.disable_user(user.id, utcnow())
        self._record("admin_user_disabled", user.id)
        return ended

    def enable_user(self, email: str) -> bool:
        """Let a disabled account log in again; tell whether it was disabled.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self._require(email)
        was_disabled = self._db.enable_user(user.id)
        if was_disabled:
            self._record("admin_user_enabled", user.id)
        return was_disabled

    def delete_user(self, email: str) -> None:
        """Delete an account with its sessions and reset token.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self._require(email)
        self._db.delete_user(user.id)
        # Its earlier events stay, unlinked but with its email; so does this one.
        self._record("admin_user_deleted", None, email=user.email)

    def revoke_sessions(self, email: str) -> int:
        """End every session of an account; return how many there were.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self._require(email)
        ended = self._auth.sessions.end_all(user.id)
        self._record("admin_sessions_revoked", user.id)
        return ended

    def reset_factors(self, email: str) -> bool:
        """Remove every second factor of an account (a lost phone and lost recovery codes):
        its sessions end, its owner gets a notice (with mail set up), the audit records it.
        Tell whether it had one.

        Raises:
            UnknownEmailError: no account has this email.
        """
        return self._auth.enrolment.reset(self._require(email), ADMIN_CLIENT)

    def reencrypt_secrets(self) -> int:
        """Encrypt every readable secret again with the first of USERAUTH_ENCRYPTION_KEYS;
        return how many. A secret changed meanwhile (re-enrolled) is left as it is.

        Raises:
            UnreadableSecretError: a secret none of the keys opens (nothing after it moves).
        """
        moved = 0
        for factor_id, sealed in self._db.sealed_secrets():
            if self._db.reseal_secret(factor_id, sealed, self._auth.box.reseal(sealed)):
                moved += 1
        # The OpenID Connect provider's signing keys are sealed in the same box.
        for key in self._db.signing_keys():
            resealed = self._auth.box.reseal(key.sealed_jwk)
            if self._db.reseal_signing_key(key.kid, key.sealed_jwk, resealed):
                moved += 1
        return moved

    def audit_events(self, *, email: str | None = None, limit: int = 50) -> list[AuditEntry]:
        """Return the newest audit events, of one account when `email` is given.

        Raises:
            UnknownEmailError: no account has this email.
        """
        if email is None:
            events = self._db.list_audit_events(limit=limit)
        elif names_no_account(email):
            raise UnknownEmailError(email)
        else:
            user = self._auth.accounts.find_any(email)
            # A deleted account is found by the email its events kept.
            events = self._db.list_audit_events(
                user_id=None if user is None else user.id,
                email=email if user is None else None,
                limit=limit,
            )
            if not events and user is None:
                raise UnknownEmailError(email)
        emails = self._db.emails_by_id({e.user_id for e in events if e.user_id is not None})
        return [
            AuditEntry(
                created_at=as_utc(event.created_at),
                event=event.event,
                email=event.email or emails.get(event.user_id or 0),
                client_address=event.client_address,
                user_agent=event.user_agent,
            )
            for event in events
        ]

    def _record(self, event: str, user_id: int | None, email: str | None = None) -> None:
        self._auth.record_event(event, user_id, ADMIN_CLIENT, email)

    def _require(self, email: str) -> User:
        user = self._auth.accounts.find_any(email)
        if user is None:
            raise UnknownEmailError(email)
        return user


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
