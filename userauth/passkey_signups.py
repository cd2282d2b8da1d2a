"""Signing up with a passkey instead of a password: an account whose only credential is it.

The options name the email and a new random user handle; the challenge is bound to a new
login_challenge cookie. The account is made, with its passkey, in one transaction: a taken
email never gets the passkey (it would let whoever signs up in someone's name into their
account). As sign-up with a password does (accounts.py), development says the email is
taken; production answers exactly as for a new email, registers nothing and mails the owner
(OWASP Authentication cheat sheet: account creation must not enumerate accounts).
Development then logs the new account in (unless USERAUTH_EMAIL_VERIFICATION is `required`:
the address must be proven first); production does not, for new and taken alike. With
verification on, the new account is mailed its link, as after a sign-up with a password.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from userauth import emails, tokens
from userauth.accounts import ACCOUNT_CREATED_MAIL, ACCOUNT_EXISTS_MAIL, Accounts
from userauth.audit import Audit, Client
from userauth.db import DB, NewPasskey
from userauth.errors import EmailTakenError, PasskeyRegistrationError
from userauth.factors import passkey as passkey_factor
from userauth.outbox import Outbox
from userauth.passkey_logins import LoginOptions
from userauth.passkey_registrations import (
    MALFORMED,
    challenge_of,
    creation_options,
    verified_registration,
)
from userauth.passkey_terms import (
    CHALLENGE_LIFETIME,
    SIGN_UP,
    RelyingParty,
    new_challenge,
    new_handle,
)
from userauth.sessions import Sessions
from userauth.verification import EmailVerification

SIGN_UP_FAILED = "passkey_signup_failed"


@dataclass(frozen=True)
class PasskeySignUp:
    """What a passkey sign-up answers: the email as given, and a session in development."""

    email: str
    session_id: str | None = field(default=None, repr=False)


class PasskeySignUps:
    """Begin and finish signing up with a passkey."""

    def __init__(
        self,
        db: DB,
        accounts: Accounts,
        sessions: Sessions,
        verification: EmailVerification,
        outbox: Outbox,
        audit: Audit,
        clock: Callable[[], datetime],
        *,
        production: bool,
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._sessions = sessions
        self._verification = verification
        self._outbox = outbox
        self._audit = audit
        self._clock = clock
        self._production = production

    def options(self, rp: RelyingParty, email: str) -> LoginOptions:
        """Return creation options for a new account with this email, and the cookie their
        challenge is bound to.

        Raises:
            InvalidEmailError: the email is malformed.
            EmailTakenError: the email has an account, in development only.
        """
        normalized = emails.normalize(email)
        if not self._production and self._accounts.find_any(normalized) is not None:
            raise EmailTakenError(email)
        handle = new_handle()
        challenge, digest = new_challenge()
        cookie = tokens.new_token()
        now = self._clock()
        payload = json.dumps({"email": normalized, "handle": handle})
        self._db.add_webauthn_challenge(
            digest, SIGN_UP, tokens.digest(cookie), None, payload, now, now + CHALLENGE_LIFETIME
        )
        return LoginOptions(creation_options(rp, normalized, handle, challenge), cookie)

    def sign_up(
        self, rp: RelyingParty, cookie: str | None, credential: Mapping[str, Any], client: Client
    ) -> PasskeySignUp:
        """Verify the registration and create the account with its passkey.

        Raises:
            PasskeyRegistrationError: no live challenge of this cookie matches, the response
                does not verify, or the credential is registered already (nothing stored).
            EmailTakenError: the email has an account, in development only (nothing stored;
                production answers as for a new one and mails the owner).

        Every PasskeyRegistrationError is audited as passkey_signup_failed, with no account
        and no email (the email is not proven; OWASP Logging cheat sheet: authentication
        failures are logged).
        """
        email, handle, passkey = self._verified(rp, cookie, credential, client)
        try:
            user = self._db.add_user_with_passkey(email, handle, passkey, self._clock())
        except EmailTakenError:
            if not self._production:
                raise
            self._outbox.enqueue(ACCOUNT_EXISTS_MAIL, email, client.language_only())
            return PasskeySignUp(email)
        if user is None:
            self._audit.record(SIGN_UP_FAILED, None, client)
            raise PasskeyRegistrationError
        self._audit.record("user_registered", user.id, client, user.email)
        self._audit.record("passkey_added", user.id, client, user.email)
        # As a sign-up with a password (accounts.py): the link when verification is on, else
        # (production) a job all the same, so the outbox moves alike for new and taken emails.
        self._verification.on_sign_up(user, client)
        if self._production:
            if not self._verification.is_on:
                self._outbox.enqueue(ACCOUNT_CREATED_MAIL, user.email, client.language_only())
            return PasskeySignUp(email)
        if not self._verification.admits(user):
            # `required`: no session until the address is proven (its link is on its way).
            return PasskeySignUp(email)
        amr = passkey_factor.methods(passkey.backed_up)
        session_id = self._sessions.start(user, client=client, amr=amr)
        if session_id is not None:
            self._audit.record("login", user.id, client, user.email)
        return PasskeySignUp(email, session_id)

    def _verified(
        self, rp: RelyingParty, cookie: str | None, credential: Mapping[str, Any], client: Client
    ) -> tuple[str, str, NewPasskey]:
        """Spend the cookie's challenge and verify the registration; return the email and
        handle the options named, and the passkey.

        Raises:
            PasskeyRegistrationError: as sign_up (audited).
        """
        try:
            if not tokens.looks_like_token(cookie):
                raise PasskeyRegistrationError
            try:
                challenge = challenge_of(credential)
            except MALFORMED:
                raise PasskeyRegistrationError from None
            taken = self._db.take_webauthn_challenge(
                tokens.digest(challenge), SIGN_UP, tokens.digest(cookie), self._clock()
            )
            if taken is None or taken.payload is None:
                raise PasskeyRegistrationError
            begun = json.loads(taken.payload)
            passkey = verified_registration(rp, credential, challenge, "Passkey")
        except PasskeyRegistrationError:
            self._audit.record(SIGN_UP_FAILED, None, client)
            raise
        return str(begun["email"]), str(begun["handle"]), passkey
