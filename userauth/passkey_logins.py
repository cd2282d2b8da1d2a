"""Logging in with a passkey: alone (a discoverable credential, no email typed), or as the
second factor of a pending login.

Both start with request options whose challenge is bound to the browser's login_challenge
cookie: a new random one for a login from scratch, the pending login's own after a right
password (then only that account's passkeys are offered). The response must name a passkey
of the account the ceremony was for (a credential of one account never logs into another),
carry its owner's user handle, verify against the relying party with user verification, and
move the authenticator's sign counter forward: a counter that goes back is a cloned
authenticator (WebAuthn Level 3 6.1.1, 7.2 step 21), refused and audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import webauthn
from webauthn.helpers.structs import UserVerificationRequirement

from userauth import tokens
from userauth.audit import Audit, Client
from userauth.db import DB, StoredPasskey
from userauth.errors import EmailNotVerifiedError, PasskeyLoginError
from userauth.factors import passkey as passkey_factor
from userauth.login_transactions import LoginTransactions
from userauth.models import User
from userauth.passkey_registrations import MALFORMED, challenge_of, descriptors
from userauth.passkey_terms import CHALLENGE_LIFETIME, LOGIN, RelyingParty, new_challenge
from userauth.sessions import Sessions
from userauth.verification import EmailVerification


@dataclass(frozen=True)
class LoginOptions:
    """Request options as JSON, and the login_challenge cookie they are bound to."""

    options_json: str
    cookie: str = field(repr=False)


@dataclass(frozen=True)
class PasskeyLogin:
    """A completed passkey login: whose, and the new session's id."""

    user: User
    session_id: str = field(repr=False)


class PasskeyLogins:
    """Begin and finish passkey logins."""

    def __init__(
        self,
        db: DB,
        sessions: Sessions,
        transactions: LoginTransactions,
        verification: EmailVerification,
        audit: Audit,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._transactions = transactions
        self._verification = verification
        self._audit = audit
        self._clock = clock

    def options(self, rp: RelyingParty, cookie: str | None) -> LoginOptions:
        """Return request options: for the pending login the cookie names (its account's
        passkeys only), else for any discoverable passkey under a new cookie."""
        now = self._clock()
        owner = None
        if tokens.looks_like_token(cookie):
            owner = self._db.pending_login_owner(tokens.digest(cookie), now)
        if owner is None or cookie is None:
            cookie = tokens.new_token()
        challenge, digest = new_challenge()
        self._db.add_webauthn_challenge(
            digest, LOGIN, tokens.digest(cookie), owner, None, now, now + CHALLENGE_LIFETIME
        )
        allowed = [] if owner is None else descriptors(self._db.passkeys_of(owner))
        options = webauthn.generate_authentication_options(
            rp_id=rp.id,
            challenge=challenge,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return LoginOptions(webauthn.options_to_json(options), cookie)

    def login(
        self, rp: RelyingParty, cookie: str | None, credential: Mapping[str, Any], client: Client
    ) -> PasskeyLogin:
        """Verify a passkey response; start a session, or complete the pending login.

        Raises:
            PasskeyLoginError: no live challenge of this cookie matches, the passkey is
                unknown or not the pending login's account's, the response does not verify,
                or its counter went back (audited as passkey_counter_regressed).
            LoginChallengeError: the pending login died meanwhile.
            EmailNotVerifiedError: the passkey is right, but USERAUTH_EMAIL_VERIFICATION is
                `required` and the address is not verified (a fresh link is mailed), as for
                a password login.
        """
        if not tokens.looks_like_token(cookie):
            raise PasskeyLoginError
        try:
            challenge = challenge_of(credential)
            credential_id = str(credential["id"])
        except MALFORMED:
            raise PasskeyLoginError from None
        taken = self._db.take_webauthn_challenge(
            tokens.digest(challenge), LOGIN, tokens.digest(cookie), self._clock()
        )
        found = None if taken is None else self._db.passkey_by_credential(credential_id)
        if taken is None or found is None:
            self._audit.record("passkey_login_failed", None, client)
            raise PasskeyLoginError
        passkey, handle = found
        if taken.user_id not in (None, passkey.user_id) or not _names_owner(
            credential, handle, required=taken.user_id is None
        ):
            # Another account's passkey: refused before it is even checked.
            self._audit.record("passkey_login_failed", taken.user_id, client)
            raise PasskeyLoginError
        methods = self.verify(rp, passkey, credential, challenge, client)
        if taken.user_id is not None:
            done = self._transactions.complete_proven(cookie, passkey.user_id, methods, client)
            return PasskeyLogin(done.user, done.session_id)
        user = self._db.find_enabled_user(passkey.user_id)
        if user is not None and self._verification.refuses(user, client):
            # Every factor was right: the same answer as a password login gets.
            raise EmailNotVerifiedError
        session_id = (
            None if user is None else self._sessions.start(user, client=client, amr=methods)
        )
        if user is None or session_id is None:
            raise PasskeyLoginError
        self._audit.record("login", user.id, client)
        return PasskeyLogin(user, session_id)

    def verify(
        self,
        rp: RelyingParty,
        passkey: StoredPasskey,
        credential: Mapping[str, Any],
        challenge: str,
        client: Client,
    ) -> tuple[str, ...]:
        """Verify the response with the passkey's public key; record its new counter;
        return the methods it proved (RFC 8176 amr values).

        Raises:
            PasskeyLoginError: the response does not verify (audited as
                passkey_login_failed), its counter went back (passkey_counter_regressed), or
                a parallel ceremony used this counter value first.
        """
        try:
            verified = webauthn.verify_authentication_response(
                credential=dict(credential),
                expected_challenge=webauthn.base64url_to_bytes(challenge),
                expected_rp_id=rp.id,
                expected_origin=list(rp.origins),
                credential_public_key=webauthn.base64url_to_bytes(passkey.public_key),
                # The counter is compared below, so that a regression is told apart.
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except MALFORMED:
            self._audit.record("passkey_login_failed", passkey.user_id, client)
            raise PasskeyLoginError from None
        seen, new = passkey.sign_count, verified.new_sign_count
        if (new > 0 or seen > 0) and new <= seen:
            # WebAuthn Level 3 6.1.1: a signature counter that did not grow means two copies
            # of the authenticator's key exist (a clone): refuse, and leave a trail.
            self._audit.record("passkey_counter_regressed", passkey.user_id, client)
            raise PasskeyLoginError
        now = self._clock()
        if not self._db.use_passkey(passkey.id, seen, new, verified.credential_backed_up, now):
            raise PasskeyLoginError  # a parallel login used this counter value first
        return passkey_factor.methods(verified.credential_backed_up)


def _names_owner(credential: Mapping[str, Any], handle: str, *, required: bool) -> bool:
    """Tell whether the response's user handle is the passkey owner's (WebAuthn Level 3 7.2
    step 6: required when no account was named before the ceremony)."""
    given = credential.get("response", {}).get("userHandle")
    if not given:
        return not required
    return isinstance(given, str) and given == handle
