"""Recent authentication: sensitive actions need the user to have proven it is them lately.

A session records when its user last authenticated (a login, or `reauthenticate`). Enrolling
or removing a factor and regenerating recovery codes (later: changing the email, deleting
the account) require that to be within USERAUTH_REAUTH_MINUTES (default 10), so that a
session left open, or stolen, cannot change how the account is protected (OWASP
Authentication cheat sheet, "re-authentication"; NIST SP 800-63B 4.2.3 reauthentication).
"""

from __future__ import annotations

from datetime import timedelta

from userauth.audit import Audit, Client
from userauth.errors import ReauthenticationRequiredError, WrongPasswordError
from userauth.factors import password as password_factor
from userauth.second_factors import SecondFactors
from userauth.sessions import LiveSession, Sessions


class Reauthentication:
    """Check and refresh a session's recent authentication."""

    def __init__(
        self, sessions: Sessions, second_factors: SecondFactors, audit: Audit, window: timedelta
    ) -> None:
        self._sessions = sessions
        self._second = second_factors
        self._audit = audit
        self._window = window

    def require_recent(self, live: LiveSession) -> None:
        """Raise unless the session's user authenticated within the window.

        Raises:
            ReauthenticationRequiredError: the last authentication is older.
        """
        if not self._sessions.authenticated_within(live, self._window):
            raise ReauthenticationRequiredError

    def reauthenticate(
        self,
        live: LiveSession,
        client: Client,
        *,
        password: str | None = None,
        code: str | None = None,
    ) -> LiveSession:
        """Prove the session's user again, with the password or a second-factor code; return
        the session with its new authenticated_at (for a sensitive action in this request).

        Raises:
            WrongPasswordError: the password is wrong (or neither was given).
            WrongCodeError: the code is wrong.
            TooManyCodesError: the account's budget of wrong codes is spent.
        """
        if code:
            self._second.prove(live.user, code, client)
        elif password is None or not password_factor.proves(live.user, password):
            self._audit.record("reauthentication_failed", live.user_id, client)
            raise WrongPasswordError
        refreshed = self._sessions.reauthenticated(live)
        self._audit.record("reauthenticated", live.user_id, client)
        return refreshed
