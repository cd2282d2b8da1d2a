"""The Auth facade's password operations: resets, changes, a first password.

Auth inherits them, apart so each part stays short; the rules are resets.py's and
credentials.py's. A new password ends the account's other sessions (and, by the store's
commit hook, what relying parties hold of them: oidc/backchannel.py).
"""

from __future__ import annotations

from userauth.audit import NO_CLIENT, Client
from userauth.credentials import Credentials
from userauth.db import LiveSession
from userauth.reauthentication import Reauthentication
from userauth.resets import ResetRequest, Resets


class PasswordOperations:
    """Reset a forgotten password, change a known one, set a passkey account's first."""

    credentials: Credentials
    reauthentication: Reauthentication
    resets: Resets

    def request_password_reset(self, email: str, client: Client = NO_CLIENT) -> ResetRequest:
        """Start a reset as the environment allows (Resets.request).

        Raises:
            UnknownEmailError: no enabled account has this email, in development only.
        """
        return self.resets.request(email, client)

    def get_reset_password_token(self, email: str, client: Client = NO_CLIENT) -> str:
        """Issue a reset token and return it (Resets.issue).

        Raises:
            UnknownEmailError: no enabled account has this email (a ValueError).
        """
        return self.resets.issue(email, client)

    def update_password(self, reset_token: str, password: str, client: Client = NO_CLIENT) -> None:
        """Set a new password with a reset token (Resets.reset).

        Raises:
            InvalidTokenError: the token is not live (a ValueError).
            PasswordPolicyError: the new password breaks the policy.
        """
        self.resets.reset(None, reset_token, password, client)

    def reset_link_is_live(self, reset_token: str | None) -> bool:
        """Tell whether a reset token would set a password now, without spending it."""
        return self.resets.is_live(reset_token)

    def reset_password(
        self, email: str, reset_token: str, password: str, client: Client = NO_CLIENT
    ) -> None:
        """Like update_password, but the token must also belong to this email.

        Raises:
            InvalidTokenError: the token is not a live token of this email's account.
            PasswordPolicyError: the new password breaks the policy.
        """
        self.resets.reset(email, reset_token, password, client)

    def change_password(
        self, live: LiveSession, current: str, new: str, client: Client = NO_CLIENT
    ) -> None:
        """Change the password of a logged-in user (Credentials.change).

        Raises:
            WrongPasswordError: the current password does not match.
            PasswordPolicyError: the new password breaks the policy.
        """
        self.credentials.change(live, current, new, client)

    def set_password(self, live: LiveSession, new: str, client: Client = NO_CLIENT) -> None:
        """Give a password to an account made with a passkey alone (Credentials.set_first).

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            WrongPasswordError: the account has a password already.
            PasswordPolicyError: the new password breaks the policy.
        """
        self.reauthentication.require_recent(live)
        self.credentials.set_first(live, new, client)
