"""Enrolling, listing and removing an account's second factors (TOTP with recovery codes).

Every change here is a credential change (db.change_credentials): the account's other
sessions and pending logins end, the session it was made in stays. Enrolling, removing and
regenerating need a recent authentication (reauthentication.py), so a session left open on
a shared computer cannot lock its owner out or keep a way in (OWASP Multifactor
Authentication cheat sheet, "changing factors").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from userauth.audit import Audit, Client
from userauth.db import DB, LiveSession, StoredFactor
from userauth.errors import (
    FactorAlreadyEnabledError,
    FactorNotFoundError,
    NoPendingEnrolmentError,
    WrongCodeError,
)
from userauth.factors import recovery_code, totp
from userauth.models import User
from userauth.notices import Notices
from userauth.reauthentication import Reauthentication
from userauth.secret_box import SecretBox


@dataclass(frozen=True)
class TotpEnrolment:
    """A TOTP factor begun: its seed (base32) and the otpauth:// URI for the QR code."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)


@dataclass(frozen=True)
class FactorView:
    """What a user sees of one of their factors."""

    type: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class FactorList:
    """An account's confirmed factors and how many recovery codes it has left."""

    factors: list[FactorView]
    recovery_codes_left: int


# How long a begun TOTP enrolment waits for its first code (then it must begin again).
PENDING_LIFETIME = timedelta(minutes=10)


class Enrolment:
    """Begin, confirm, remove and list second factors."""

    def __init__(
        self,
        db: DB,
        box: SecretBox,
        reauthentication: Reauthentication,
        audit: Audit,
        notices: Notices,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._box = box
        self._reauth = reauthentication
        self._audit = audit
        self._notices = notices
        self._clock = clock

    def begin_totp(self, live: LiveSession) -> TotpEnrolment:
        """Draw a new TOTP seed for the account, pending until a code confirms it.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            FactorAlreadyEnabledError: the account has TOTP already.
        """
        self._reauth.require_recent(live)
        secret = totp.new_secret()
        if not self._db.begin_factor(
            live.user_id, totp.NAME, self._box.seal(secret), self._clock()
        ):
            raise FactorAlreadyEnabledError
        return TotpEnrolment(secret=secret, otpauth_uri=totp.provisioning_uri(secret, live.email))

    def pending_totp(self, live: LiveSession) -> TotpEnrolment | None:
        """Return the enrolment begun and not confirmed yet (its seed again), or None.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
        """
        # The seed is a credential: only a recently authenticated session may see it again.
        self._reauth.require_recent(live)
        pending = self._pending_totp(live.user_id)
        if pending is None or pending.secret is None:
            return None
        secret = self._box.open(pending.secret)
        return TotpEnrolment(secret, totp.provisioning_uri(secret, live.email))

    def _pending_totp(self, user_id: int) -> StoredFactor | None:
        """Return the account's unconfirmed TOTP factor begun less than PENDING_LIFETIME ago."""
        begun_after = self._clock() - PENDING_LIFETIME
        for factor in self._db.factors_of(user_id):
            if (
                factor.type == totp.NAME
                and factor.confirmed_at is None
                and factor.secret is not None
                and factor.created_at > begun_after
            ):
                return factor
        return None

    def confirm_totp(self, live: LiveSession, code: str, client: Client) -> list[str]:
        """Confirm the pending TOTP seed with a code from it; return new recovery codes.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            NoPendingEnrolmentError: no TOTP enrolment was begun in the last PENDING_LIFETIME
                (or it is confirmed).
            WrongCodeError: the code is not the seed's, now.
        """
        # Turning a factor on is a sensitive action from its first step to its last: a stale
        # session must not confirm a seed another session began (OWASP Multifactor
        # Authentication cheat sheet, "changing factors"; NIST SP 800-63B 7.2).
        self._reauth.require_recent(live)
        pending = self._pending_totp(live.user_id)
        if pending is None or pending.secret is None:
            raise NoPendingEnrolmentError
        now = self._clock()
        step = totp.matching_step(self._box.open(pending.secret), code, now)
        if step is None:
            raise WrongCodeError
        codes = recovery_code.new_codes()
        digests = [recovery_code.digest(code) for code in codes]
        if not self._db.confirm_factor(
            live.user_id, pending.id, step, now, digests, keep_session=live.id
        ):
            raise NoPendingEnrolmentError
        self._audit.record("second_factor_enabled", live.user_id, client)
        return codes

    def disable_totp(self, live: LiveSession, client: Client) -> None:
        """Remove the account's TOTP factor and its recovery codes.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            FactorNotFoundError: the account has no TOTP factor.
        """
        self._reauth.require_recent(live)
        if not self._db.remove_factors(live.user_id, keep_session=live.id):
            raise FactorNotFoundError
        self._audit.record("second_factor_disabled", live.user_id, client)

    def regenerate_recovery_codes(self, live: LiveSession, client: Client) -> list[str]:
        """Replace the account's recovery codes by new ones (the old list dies); return them.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            FactorNotFoundError: the account has no confirmed second factor.
        """
        self._reauth.require_recent(live)
        if not any(f.confirmed_at is not None for f in self._db.factors_of(live.user_id)):
            raise FactorNotFoundError
        codes = recovery_code.new_codes()
        digests = [recovery_code.digest(code) for code in codes]
        self._db.replace_recovery_codes(live.user_id, digests, self._clock(), keep_session=live.id)
        self._audit.record("recovery_codes_regenerated", live.user_id, client)
        return codes

    def list(self, user_id: int) -> FactorList:
        """Return the account's confirmed factors and its recovery codes left."""
        views = [
            FactorView(type=f.type, created_at=f.created_at, last_used_at=f.last_used_at)
            for f in self._db.factors_of(user_id)
            if f.confirmed_at is not None
        ]
        return FactorList(views, self._db.count_recovery_codes(user_id))

    def reset(self, user: User, client: Client) -> bool:
        """Remove every second factor of the account (an administrator's act: a lost
        phone and lost codes); end its sessions, notify the owner. Tell whether it had one.

        Passkeys go too: a lost device is the same story (userauth/passkeys.py)."""
        had_passkeys = self._db.remove_passkeys(user.id)
        had = self._db.remove_factors(user.id, keep_session=None) or had_passkeys
        self._audit.record("second_factors_reset", user.id, client)
        self._notices.send(user, "factors_reset", client)
        return had
