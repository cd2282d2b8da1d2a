"""The Auth facade's sign-up and login operations, apart so each part stays short.

Auth inherits them; the rules are accounts.py's, invitations.py's, verification.py's and
credentials.py's.
"""

from __future__ import annotations

from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.credentials import Credentials, LoginResult
from userauth.errors import EmailTakenError
from userauth.invitations import Invitations
from userauth.models import User
from userauth.sessions import Sessions
from userauth.settings import Settings
from userauth.verification import EmailVerification


class SignUpOperations:
    """Sign up (alone, with an invitation, or logging in at once) and log in with a password."""

    _settings: Settings
    accounts: Accounts
    audit: Audit
    credentials: Credentials
    invitations: Invitations
    sessions: Sessions
    verification: EmailVerification

    def sign_up(
        self,
        email: str,
        password: str,
        client: Client = NO_CLIENT,
        invitation: str | None = None,
    ) -> User | None:
        """Register, answering a taken email as the environment allows (Accounts.sign_up);
        return the new account, or None for a taken email in production. With an
        `invitation` (invitations.py), the account's address is verified.

        Raises:
            EmailTakenError: the email has an account, in development only.
            InvalidEmailError, PasswordPolicyError: the email or password is refused.
            SignupClosedError: USERAUTH_SIGNUP refuses a sign-up without an invitation.
            InvalidLinkError: the invitation is not live, or is another address's.
        """
        self.invitations.check_open(invitation)
        if invitation:
            return self._sign_up_invited(invitation, email, password, client)
        user = self.accounts.sign_up(email, password, client)
        if user is not None:
            self.audit.record("user_registered", user.id, client, user.email)
            self.verification.on_sign_up(user, client)
        return user

    def _sign_up_invited(
        self, invitation: str, email: str, password: str, client: Client
    ) -> User | None:
        try:
            user = self.invitations.sign_up(invitation, email, password, client)
        except EmailTakenError:
            if self._settings.is_production:
                return None  # as a taken email's sign-up answers (SPEC.md C3)
            raise
        self.audit.record("user_registered", user.id, client, user.email)
        return user

    def sign_up_and_log_in(
        self,
        email: str,
        password: str,
        client: Client = NO_CLIENT,
        invitation: str | None = None,
    ) -> str | None:
        """Register (as `sign_up`), then start a session in development; return its id.

        None in production, for a new email and a taken one alike: logging in only the new
        ones would tell whoever signs up which emails are registered (OWASP Authentication
        cheat sheet: account creation must not enumerate accounts).

        Raises:
            EmailTakenError: the email has an account, in development only.
            InvalidEmailError, PasswordPolicyError: the email or password is refused.
            SignupClosedError, InvalidLinkError: as `sign_up`.
        """
        user = self.sign_up(email, password, client, invitation)
        if user is None or self._settings.is_production:
            return None
        if self.verification.refuses(user, client):
            return None
        session_id = self.sessions.start(user, client=client)
        if session_id is not None:
            self.audit.record("login", user.id, client, user.email)
        return session_id

    def register_user(self, email: str, password: str) -> User:
        """Create an account and return it (Accounts.register)."""
        return self.accounts.register(email, password)

    def login(self, email: str, password: str, client: Client = NO_CLIENT) -> LoginResult:
        """Log in: one look-up, one password check, a session (Credentials.login)."""
        return self.credentials.login(email, password, client)

    def valid_login(self, email: str, password: str, client: Client = NO_CLIENT) -> bool:
        """Tell whether the email and password belong to an enabled account."""
        return self.credentials.check(email, password, client) is not None
