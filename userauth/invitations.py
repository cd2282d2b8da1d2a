"""Who may sign up (USERAUTH_SIGNUP) and invitations: `userauth user invite EMAIL` makes a
link valid 7 days, and signing up with it makes an account whose address is verified.

An invitation is a one-time secret of purpose `invitation` with no account yet, bound to the
invited address (its payload is the address's key): it signs up that address only, once. The
operator's command issues and mails it at once (or prints the link when no mail server is
set), so the outbox never holds it in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from userauth import emails
from userauth.accounts import Accounts
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.db import DB
from userauth.errors import (
    EmailTakenError,
    InvalidLinkError,
    InvalidTokenError,
    SignupClosedError,
)
from userauth.lifecycle_mail import SIGNUP_PATH, invitation_message, lifecycle_link
from userauth.mail import Mailer, send_mail
from userauth.models import User
from userauth.one_time import OneTimeSecrets, Purpose
from userauth.settings import Settings


class Invitations:
    """Decide whether a sign-up may go ahead; issue and spend invitations."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        accounts: Accounts,
        secrets: OneTimeSecrets,
        audit: Audit,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = settings
        self._accounts = accounts
        self._secrets = secrets
        self._audit = audit
        self._clock = clock

    def invite(self, email: str, mailer: Mailer | None) -> str:
        """Issue an invitation for this address; mail it when `mailer` is given. Return the
        link (the operator's to hand over when there is no mail server).

        Raises:
            InvalidEmailError: the address is malformed.
            EmailTakenError: the address already has an account.
        """
        address = emails.normalize(email)
        if self._accounts.find_any(address) is not None:
            raise EmailTakenError(email)
        lifetime = self._settings.accounts.invitation_lifetime
        token = self._secrets.issue(
            None, Purpose.INVITATION, lifetime, payload=emails.lookup_key(address)
        )
        self._audit.record("invitation_issued", None, NO_CLIENT, address)
        link = lifecycle_link(self._settings, SIGNUP_PATH, token, name="invitation")
        if mailer is not None:
            send_mail(mailer, address, invitation_message(self._settings, link, lifetime.days))
        return link

    def check_open(self, invitation: str | None) -> None:
        """Refuse a sign-up the setting does not allow before any work is done.

        Raises:
            SignupClosedError: USERAUTH_SIGNUP is `closed`, or `invite` and no invitation
                was given.
        """
        mode = self._settings.accounts.signup
        if mode == "closed" or (mode == "invite" and not invitation):
            raise SignupClosedError(mode)

    def sign_up(self, invitation: str, email: str, password: str, client: Client) -> User:
        """Create the invited account, its address verified, spending the invitation.

        Raises:
            InvalidLinkError: the invitation is unknown, spent, expired, or for another
                address.
            EmailTakenError: the address has an account (the invitation stays).
            InvalidEmailError, PasswordPolicyError: as a sign-up.
        """
        try:
            secret = self._secrets.redeem(invitation, Purpose.INVITATION)
        except InvalidTokenError:
            raise InvalidLinkError from None
        address = emails.normalize(email)
        if secret.user_id is not None or secret.payload != emails.lookup_key(address):
            raise InvalidLinkError
        user = self._accounts.register_invited(email, password, self._clock(), spend=secret.id)
        if user is None:
            raise InvalidLinkError  # another request spent it first
        self._audit.record("invitation_used", user.id, client)
        return user

    def is_live(self, invitation: str | None) -> bool:
        """Tell whether this invitation could sign up its address now (the sign-up page)."""
        try:
            self._secrets.redeem(invitation, Purpose.INVITATION)
        except InvalidTokenError:
            return False
        return True
