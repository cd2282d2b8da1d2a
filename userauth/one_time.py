"""One-time secrets (reset tokens today; verification tokens and codes next): the one pattern.

A secret is random, stored only as its digest, bound to one purpose and (when there is one
yet) one user, may carry a payload (a new address to confirm), expires, and is spent exactly
once: redeeming finds it, and the action that uses it deletes it in the action's own
transaction (`DB.replace_password(..., spend=secret.id)`), so of two concurrent uses one
wins. Several may be live per user and purpose, unless the issuer asks to replace the older
ones (a reset link does). A credential change of its user voids it (db.change_credentials).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from userauth import tokens
from userauth.db import DB, PendingSecret
from userauth.errors import InvalidTokenError


class Purpose(StrEnum):
    """What a secret may be used for; a secret of one purpose never serves another."""

    PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret
    EMAIL_VERIFICATION = "email_verification"
    EMAIL_CHANGE = "email_change"
    INVITATION = "invitation"


class OneTimeSecrets:
    """Issue and redeem one-time secrets over a DB."""

    def __init__(self, db: DB, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def issue(
        self,
        user_id: int | None,
        purpose: Purpose,
        lifetime: timedelta,
        *,
        payload: str | None = None,
        replace: bool = False,
    ) -> str:
        """Return a new secret for the user (None: no account yet), carrying `payload`;
        with `replace`, the user's older secrets of this purpose die."""
        secret = tokens.new_token()
        expires_at = self._clock() + lifetime
        digest = tokens.digest(secret)
        self._db.add_secret(
            user_id, purpose.value, digest, expires_at, payload=payload, replace=replace
        )
        return secret

    def redeem(self, secret: str | None, purpose: Purpose) -> PendingSecret:
        """Return the live secret of this purpose; the caller's action spends it.

        Raises:
            InvalidTokenError: unknown, spent, expired, or of another purpose.
        """
        if not tokens.looks_like_token(secret):
            raise InvalidTokenError
        found = self._db.find_secret(tokens.digest(secret), purpose.value, self._clock())
        if found is None:
            raise InvalidTokenError
        return found

    def issued_after(self, user_id: int, purpose: Purpose, expiring_after: datetime) -> bool:
        """Tell whether the user holds a secret of this purpose expiring after the moment
        given (so issued within its lifetime's last stretch): resends are spaced by it."""
        return self._db.has_secret(user_id, purpose.value, expiring_after=expiring_after)

    def is_pending(self, user_id: int, purpose: Purpose) -> bool:
        """Tell whether the user holds a secret of this purpose."""
        return self._db.has_secret(user_id, purpose.value)
