"""Re-authentication with a passkey: a session's user proves it is them again with one of
the account's own passkeys, as reauthentication.py does with the password or a code.

The ceremony's challenge is random, stored as a digest, bound to the session that asked for
it and to its account, spent by its first use, and dead after CHALLENGE_LIFETIME (WebAuthn
Level 3 13.4.3). The options allow only the account's passkeys, and a response from any other
passkey is refused before it is checked: another account's passkey never refreshes this
session (NIST SP 800-63B 4.2.3 / 7.2: reauthentication repeats an authentication of the
same subscriber).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import webauthn
from webauthn.helpers.structs import UserVerificationRequirement

from userauth import tokens
from userauth.audit import Audit, Client
from userauth.db import DB, LiveSession
from userauth.errors import PasskeyLoginError
from userauth.passkey_logins import PasskeyLogins
from userauth.passkey_registrations import MALFORMED, challenge_of, descriptors
from userauth.passkey_terms import CHALLENGE_LIFETIME, RelyingParty, new_challenge
from userauth.sessions import Sessions

REAUTHENTICATE = "reauth"  # the challenges' purpose (webauthn_challenges.purpose)


class PasskeyReauthentication:
    """Begin and finish re-authenticating a session with one of its account's passkeys."""

    def __init__(
        self,
        db: DB,
        sessions: Sessions,
        logins: PasskeyLogins,
        audit: Audit,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._sessions = sessions
        self._logins = logins
        self._audit = audit
        self._clock = clock

    def options(self, live: LiveSession, rp: RelyingParty) -> str:
        """Return PublicKeyCredentialRequestOptions as JSON allowing the account's passkeys
        only (none: an empty list, which no response can then match), user verification
        required; the challenge is bound to this session."""
        challenge, digest = new_challenge()
        now = self._clock()
        self._db.add_webauthn_challenge(
            digest, REAUTHENTICATE, _session_binding(live), live.user_id, None, now,
            now + CHALLENGE_LIFETIME,
        )  # fmt: skip
        options = webauthn.generate_authentication_options(
            rp_id=rp.id,
            challenge=challenge,
            allow_credentials=descriptors(self._db.passkeys_of(live.user_id)),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return webauthn.options_to_json(options)

    def reauthenticate(
        self, live: LiveSession, rp: RelyingParty, credential: Mapping[str, Any], client: Client
    ) -> LiveSession:
        """Verify the response of one of the account's passkeys; return the session with its
        new authenticated_at (audited as reauthenticated).

        Raises:
            PasskeyLoginError: no live challenge of this session matches, the passkey is
                unknown or another account's, the response does not verify, or its counter
                went back (audited as reauthentication_failed).
        """
        try:
            self._verify(live, rp, credential, client)
        except PasskeyLoginError:
            self._audit.record("reauthentication_failed", live.user_id, client)
            raise
        refreshed = self._sessions.reauthenticated(live)
        self._audit.record("reauthenticated", live.user_id, client)
        return refreshed

    def _verify(
        self, live: LiveSession, rp: RelyingParty, credential: Mapping[str, Any], client: Client
    ) -> None:
        try:
            challenge = challenge_of(credential)
            credential_id = str(credential["id"])
            given_handle = credential["response"].get("userHandle")
        except MALFORMED:
            raise PasskeyLoginError from None
        taken = self._db.take_webauthn_challenge(
            tokens.digest(challenge), REAUTHENTICATE, _session_binding(live), self._clock()
        )
        found = None if taken is None else self._db.passkey_by_credential(credential_id)
        if taken is None or taken.user_id != live.user_id or found is None:
            raise PasskeyLoginError
        passkey, handle = found
        # WebAuthn Level 3 7.2 step 6: the credential must be the named account's, and a
        # user handle, if the response gives one, must be that account's.
        if passkey.user_id != live.user_id or given_handle not in (None, "", handle):
            raise PasskeyLoginError
        self._logins.verify(rp, passkey, credential, challenge, client)


def _session_binding(live: LiveSession) -> str:
    # The session's row id, digested (as passkey_registrations.py's challenges, under its
    # own purpose): a challenge is only good in the session it was made for.
    return tokens.digest(f"reauth-session:{live.id}")
