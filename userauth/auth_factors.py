"""The Auth facade's second-factor operations (docs/two-factor.md), apart so each stays short.

Auth inherits them; the rules are login_transactions.py's, enrolment.py's and
reauthentication.py's.
"""

from __future__ import annotations

from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Client
from userauth.credentials import LoginOutcome, LoginResult
from userauth.db import LiveSession
from userauth.enrolment import Enrolment, FactorList, TotpEnrolment
from userauth.errors import UnknownEmailError
from userauth.login_transactions import LoginTransactions
from userauth.reauthentication import Reauthentication


class SecondFactorOperations:
    """Log in with a second factor, enrol and remove factors, re-authenticate."""

    accounts: Accounts
    enrolment: Enrolment
    login_transactions: LoginTransactions
    reauthentication: Reauthentication

    def complete_login(
        self, challenge: str | None, code: str, client: Client = NO_CLIENT
    ) -> LoginResult:
        """Complete a pending login with a TOTP or recovery code; the result holds the new
        session's id and the account's email.

        Raises:
            LoginChallengeError: no live pending login has this challenge.
            WrongCodeError: the code is wrong.
            TooManyCodesError: the account's budget of wrong codes is spent.
        """
        done = self.login_transactions.complete(challenge, code, client)
        return LoginResult(
            LoginOutcome.SUCCEEDED, session_id=done.session_id, email=done.user.email
        )

    def begin_totp(self, live: LiveSession, client: Client = NO_CLIENT) -> TotpEnrolment:
        """Begin enrolling TOTP: a new seed and its otpauth URI (Enrolment.begin_totp).

        Raises:
            ReauthenticationRequiredError, FactorAlreadyEnabledError.
        """
        return self.enrolment.begin_totp(live)

    def confirm_totp(self, live: LiveSession, code: str, client: Client = NO_CLIENT) -> list[str]:
        """Confirm TOTP with a code; return the 10 recovery codes, shown once.

        Raises:
            NoPendingEnrolmentError, WrongCodeError.
        """
        return self.enrolment.confirm_totp(live, code, client)

    def disable_totp(self, live: LiveSession, client: Client = NO_CLIENT) -> None:
        """Remove TOTP and the recovery codes (Enrolment.disable_totp).

        Raises:
            ReauthenticationRequiredError, FactorNotFoundError.
        """
        self.enrolment.disable_totp(live, client)

    def regenerate_recovery_codes(
        self, live: LiveSession, client: Client = NO_CLIENT
    ) -> list[str]:
        """Replace the recovery codes; return the new ones (the old list dies).

        Raises:
            ReauthenticationRequiredError, FactorNotFoundError.
        """
        return self.enrolment.regenerate_recovery_codes(live, client)

    def list_factors(self, live: LiveSession) -> FactorList:
        """Return the session user's factors and recovery codes left."""
        return self.enrolment.list(live.user_id)

    def reauthenticate(
        self,
        live: LiveSession,
        client: Client = NO_CLIENT,
        *,
        password: str | None = None,
        code: str | None = None,
    ) -> LiveSession:
        """Authenticate again within a session, with the password or a code; return the
        session as it is now (its authenticated_at refreshed).

        Raises:
            WrongPasswordError, WrongCodeError, TooManyCodesError.
        """
        return self.reauthentication.reauthenticate(live, client, password=password, code=code)

    def pending_totp(self, live: LiveSession) -> TotpEnrolment | None:
        """Return the TOTP enrolment begun and not yet confirmed (the same seed), or None."""
        return self.enrolment.pending_totp(live)

    def require_recent_authentication(self, live: LiveSession) -> None:
        """Raise unless the session's user authenticated within USERAUTH_REAUTH_MINUTES.

        Raises:
            ReauthenticationRequiredError: the last authentication is older.
        """
        self.reauthentication.require_recent(live)

    def reset_factors(self, email: str, client: Client = NO_CLIENT) -> bool:
        """Remove every second factor of the account with this email (an administrator's
        act); its sessions end and its owner is notified. Tell whether it had one.

        Raises:
            UnknownEmailError: no account has this email.
        """
        user = self.accounts.find_any(email)
        if user is None:
            raise UnknownEmailError(email)
        return self.enrolment.reset(user, client)
