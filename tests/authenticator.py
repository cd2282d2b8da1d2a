"""A software WebAuthn authenticator and client for the API tests, written from the spec
with `cryptography` and `cbor2` (none of userauth's or py_webauthn's code).

It makes what a browser hands a page: PublicKeyCredential.toJSON() of a registration
(attestation "none", WebAuthn Level 3 8.7) and of an assertion, with ES256 keys (COSE
algorithm -7), discoverable credentials, user presence and user verification flags, and a
signature counter per credential. Each piece a test may want wrong (origin, RP ID, counter)
is a parameter.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# Authenticator data flags (WebAuthn Level 3 6.1).
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """A discoverable credential held by the authenticator."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


class SoftAuthenticator:
    """A platform authenticator with user verification (a phone or laptop's own)."""

    def __init__(self, *, backed_up: bool = False, counts: bool = True) -> None:
        self.credentials: list[Credential] = []
        self.backed_up = backed_up
        # Synced passkeys often keep the counter at 0 (WebAuthn Level 3 6.1.1 allows it).
        self.counts = counts

    def clone(self) -> SoftAuthenticator:
        """Return a copy holding the same keys and counters (a cloned authenticator)."""
        return copy.deepcopy(self)

    def _flags(self, extra: int) -> int:
        flags = UP | UV | extra
        return flags | (BE | BS if self.backed_up else 0)

    def create(
        self, options: dict[str, Any], origin: str, *, rp_id: str | None = None
    ) -> dict[str, Any]:
        """Answer navigator.credentials.create(options) as a browser at `origin` would."""
        rp_id = rp_id or options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        credential = Credential(
            id=os.urandom(16),
            key=key,
            rp_id=rp_id,
            user_handle=from_b64url(options["user"]["id"]),
        )
        numbers = key.public_key().public_numbers()
        cose_key = {
            1: 2,  # kty: EC2
            3: ES256,
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        attested = (
            bytes(16)  # AAGUID: none
            + struct.pack(">H", len(credential.id))
            + credential.id
            + cbor2.dumps(cose_key)
        )
        auth_data = self._auth_data(rp_id, self._flags(AT), 0) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        self.credentials.append(credential)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        rp_id: str | None = None,
        credential: Credential | None = None,
    ) -> dict[str, Any]:
        """Answer navigator.credentials.get(options): an allowed credential, or (none
        listed) the first discoverable one of the relying party."""
        chosen = credential or self._choose(options, options["rpId"])
        # A page of another site asks in its own name: its RP ID goes into the signed data.
        rp_id = rp_id or options["rpId"]
        if self.counts:
            chosen.sign_count += 1
        auth_data = self._auth_data(rp_id, self._flags(0), chosen.sign_count)
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = chosen.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(chosen.id),
            "rawId": b64url(chosen.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(chosen.user_handle),
            },
        }

    def _choose(self, options: dict[str, Any], rp_id: str) -> Credential:
        allowed = {from_b64url(c["id"]) for c in options.get("allowCredentials") or []}
        for credential in self.credentials:
            if credential.rp_id == rp_id and (not allowed or credential.id in allowed):
                return credential
        raise LookupError("no credential for this relying party")

    @staticmethod
    def _auth_data(rp_id: str, flags: int, sign_count: int) -> bytes:
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", sign_count)


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    data = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
    return json.dumps(data, separators=(",", ":")).encode()
