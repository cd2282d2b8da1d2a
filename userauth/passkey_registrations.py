"""Registering a passkey on a logged-in account: the WebAuthn ceremony, with py_webauthn, and
the ceremony helpers the logins, sign-ups and reauthentication share.

The ceremony's challenge is random, stored as a digest only, bound to the session that asked
for it, spent by its first use, and dead after CHALLENGE_LIFETIME (WebAuthn Level 3 13.4.3:
challenges must be random and used once). Attestation is `none`: this service trusts no
authenticator model more than another. Adding a passkey is a credential change
(db.change_credentials) and needs a recent authentication (reauthentication.py; OWASP
Multifactor Authentication cheat sheet, "changing factors"). Auth builds this on the first
ceremony only (passkey_terms.py says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import webauthn
from webauthn.helpers import bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from userauth import tokens
from userauth.audit import Audit, Client
from userauth.db import DB, LiveSession, NewPasskey, StoredPasskey
from userauth.errors import PasskeyRegistrationError
from userauth.passkey_terms import (
    CHALLENGE_LIFETIME,
    MAX_NAME_LENGTH,
    REGISTER,
    RelyingParty,
    new_challenge,
)
from userauth.passkeys import Passkeys
from userauth.reauthentication import Reauthentication

# Where the passkey's JSON comes from: what a response that cannot even be read raises.
MALFORMED = (WebAuthnException, ValueError, TypeError, AttributeError, KeyError)


def challenge_of(credential: Mapping[str, Any]) -> str:
    """Return the base64url challenge a WebAuthn response's clientDataJSON carries.

    Raises:
        ValueError, KeyError, TypeError, WebAuthnException: the response cannot be read.
    """
    client_data = webauthn.base64url_to_bytes(credential["response"]["clientDataJSON"])
    return bytes_to_base64url(parse_client_data_json(client_data).challenge)


def descriptors(passkeys: Sequence[StoredPasskey]) -> list[PublicKeyCredentialDescriptor]:
    """Return the credential descriptors of passkeys (to exclude, or to allow)."""
    known = {transport.value for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=webauthn.base64url_to_bytes(passkey.credential_id),
            transports=[AuthenticatorTransport(t) for t in passkey.transports if t in known],
        )
        for passkey in passkeys
    ]


def creation_options(
    rp: RelyingParty,
    email: str,
    handle: str,
    challenge: bytes,
    exclude: Sequence[StoredPasskey] = (),
) -> str:
    """Return PublicKeyCredentialCreationOptions as JSON (webauthn.options_to_json): a
    discoverable credential (resident key required), user verification required."""
    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=email,
        user_id=webauthn.base64url_to_bytes(handle),
        challenge=challenge,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=descriptors(exclude),
    )
    return webauthn.options_to_json(options)


def verified_registration(
    rp: RelyingParty, credential: Mapping[str, Any], challenge: str, name: str
) -> NewPasskey:
    """Verify a registration response against its challenge and the relying party.

    Raises:
        PasskeyRegistrationError: it does not verify (origin, RP ID, signature, no user
            verification) or cannot be read.
    """
    try:
        verified = webauthn.verify_registration_response(
            credential=dict(credential),
            expected_challenge=webauthn.base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
        given = credential["response"].get("transports")
    except MALFORMED:
        raise PasskeyRegistrationError from None
    # Only the transports WebAuthn names are kept, from a list (WebAuthn Level 3 5.2.1:
    # getTransports() is a sequence): anything else is the client's free text, dropped.
    known = {transport.value for transport in AuthenticatorTransport}
    listed = given if isinstance(given, list) else []
    transports = [t for t in listed if isinstance(t, str) and t in known]
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=tuple(dict.fromkeys(transports)),
        backed_up=verified.credential_backed_up,
        name=name[:MAX_NAME_LENGTH],
    )


class PasskeyRegistrations:
    """Register passkeys on logged-in accounts (the ceremony; Passkeys lists and removes)."""

    def __init__(
        self,
        db: DB,
        passkeys: Passkeys,
        reauthentication: Reauthentication,
        audit: Audit,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._passkeys = passkeys
        self._reauth = reauthentication
        self._audit = audit
        self._clock = clock

    def registration_options(self, live: LiveSession, rp: RelyingParty) -> str:
        """Begin registering a passkey: return the creation options as JSON; its challenge
        is bound to this session.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
        """
        self._reauth.require_recent(live)
        challenge, digest = new_challenge()
        handle = self._passkeys.handle_of(live.user_id)
        now = self._clock()
        self._db.add_webauthn_challenge(
            digest, REGISTER, _session_binding(live), live.user_id, handle, now,
            now + CHALLENGE_LIFETIME,
        )  # fmt: skip
        return creation_options(
            rp, live.email, handle, challenge, self._db.passkeys_of(live.user_id)
        )

    def register(
        self,
        live: LiveSession,
        rp: RelyingParty,
        credential: Mapping[str, Any],
        name: str,
        client: Client,
    ) -> StoredPasskey:
        """Finish registering: verify the response, store the passkey; other sessions end.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            PasskeyRegistrationError: no live challenge of this session matches, the response
                does not verify, the credential is registered already, or the challenge
                named another user handle than the account's (nothing stored; audited as
                passkey_registration_failed).
        """
        self._reauth.require_recent(live)
        try:
            challenge = challenge_of(credential)
        except MALFORMED:
            raise PasskeyRegistrationError from None
        taken = self._db.take_webauthn_challenge(
            tokens.digest(challenge), REGISTER, _session_binding(live), self._clock()
        )
        if taken is None or taken.user_id != live.user_id or taken.payload is None:
            self._audit.record("passkey_registration_failed", live.user_id, client)
            raise PasskeyRegistrationError
        try:
            passkey = verified_registration(rp, credential, challenge, name or "Passkey")
        except PasskeyRegistrationError:
            self._audit.record("passkey_registration_failed", live.user_id, client)
            raise
        if not self._db.add_passkey(
            live.user_id, taken.payload, passkey, self._clock(), keep_session=live.id
        ):
            self._audit.record("passkey_registration_failed", live.user_id, client)
            raise PasskeyRegistrationError
        self._audit.record("passkey_added", live.user_id, client)
        return self._find(live.user_id, passkey.credential_id)

    def _find(self, user_id: int, credential_id: str) -> StoredPasskey:
        for passkey in self._db.passkeys_of(user_id):
            if passkey.credential_id == credential_id:
                return passkey
        raise PasskeyRegistrationError  # removed by a parallel request meanwhile


def _session_binding(live: LiveSession) -> str:
    # The session's row id, digested like every binding: a challenge is only good in the
    # session it was made for (a stolen challenge cannot be finished elsewhere).
    return tokens.digest(f"session:{live.id}")
