"""Checking a second-factor code for an account: the wrong-code budget, the factors, the trail.

Both the login transaction's second step and re-authentication prove a code here. Each
check first takes one attempt from the account's budget (USERAUTH_CODE_FAILURES per
CODE_FAILURE_WINDOW, across its pending logins and sessions), in the database, before the
code is looked at: parallel guesses are counted exactly (OWASP Multifactor Authentication
cheat sheet; NIST SP 800-63B 5.2.2 rate limiting). A right code gives the budget back.

The wrong code that spends the budget locks the account's second step (login and
re-authentication alike) until its window ends: every code is refused unchecked, the right
one too, so guessing a 6-digit code costs an attacker who has the password at most
USERAUTH_CODE_FAILURES guesses per window (OWASP ASVS 2.2.1, anti-automation). That moment
is recorded once per window (`second_factor_locked`) and the owner gets a notice: a wrong
code after the right password means someone else has the password.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from userauth.audit import Audit, Client
from userauth.db import DB
from userauth.errors import TooManyCodesError, WrongCodeError
from userauth.factors import SecondFactor, recovery_code
from userauth.models import User
from userauth.notices import Notices

CODE_FAILURE_WINDOW = timedelta(minutes=15)


class SecondFactors:
    """The registered second factors, applied to one account at a time."""

    def __init__(
        self,
        db: DB,
        factors: dict[str, SecondFactor],
        audit: Audit,
        notices: Notices,
        clock: Callable[[], datetime],
        failures_allowed: int,
    ) -> None:
        self._db = db
        self._factors = factors
        self._audit = audit
        self._notices = notices
        self._clock = clock
        self._allowed = failures_allowed

    def of(self, user_id: int) -> tuple[str, ...]:
        """Return the names of the second factors the account has ready, in registry order."""
        return tuple(name for name, factor in self._factors.items() if factor.enrolled(user_id))

    def prove(self, user: User, code: str, client: Client) -> str:
        """Check a code against the account's factors; return the RFC 8176 method it proved.

        Raises:
            TooManyCodesError: the account's budget of wrong codes is spent (nothing checked;
                the second step is locked until the window ends).
            WrongCodeError: no factor of the account accepts the code (recorded; the one
                that spends the budget also locks the second step and notifies the owner).
        """
        now = self._clock()
        taken = self._db.reserve_code_attempt(
            user.id, now, now - CODE_FAILURE_WINDOW, self._allowed
        )
        if taken is None:
            self._audit.record("second_factor_limited", user.id, client, email=user.email)
            raise TooManyCodesError
        for name, factor in self._factors.items():
            if factor.looks_like(code) and factor.accept(user.id, code, now):
                self._db.clear_code_attempts(user.id)
                if name == recovery_code.NAME:
                    self._audit.record("recovery_code_used", user.id, client, email=user.email)
                    self._notices.send(user, "recovery_code_used", client)
                return factor.amr
        self._audit.record("second_factor_failed", user.id, client, email=user.email)
        # Exactly one request per window takes the budget's last attempt (the upsert counts
        # in the database), so the lock is recorded and told once (NIST SP 800-63B 5.2.2).
        if taken == self._allowed:
            self._audit.record("second_factor_locked", user.id, client, email=user.email)
            self._notices.send(user, "second_factor_locked", client)
        raise WrongCodeError
