"""The passkey ceremonies' shared terms that need no py_webauthn: the relying party, the
challenges' purposes, lifetime and size, a user handle's size, a passkey name's length.

Listing, renaming and removing passkeys (and the pages that show them) import only this, so a
worker that serves no WebAuthn ceremony never loads py_webauthn (with cbor2, pyOpenSSL and
pyasn1, about 7 MB of every worker's RSS).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta

from userauth import tokens

# OWASP Multifactor Authentication cheat sheet: the second step must follow the first soon;
# the contract: five minutes.
CHALLENGE_LIFETIME = timedelta(minutes=5)
CHALLENGE_BYTES = 32  # WebAuthn Level 3 13.4.3: at least 16 random bytes
HANDLE_BYTES = 32  # WebAuthn Level 3 14.6.1: a random user handle, at most 64 bytes
MAX_NAME_LENGTH = 64

# The challenges' purposes (webauthn_challenges.purpose).
REGISTER = "register"
SIGN_UP = "signup"
LOGIN = "login"


@dataclass(frozen=True)
class RelyingParty:
    """The relying party of one ceremony: its id (a host name), accepted origins, name."""

    id: str
    origins: tuple[str, ...]
    name: str = "userauth"


def base64url(data: bytes) -> str:
    """Return bytes as unpadded base64url (WebAuthn Level 3 3: "Base64url Encoding")."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def new_challenge() -> tuple[bytes, str]:
    """Return a new challenge and the digest that is stored of it."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    return challenge, tokens.digest(base64url(challenge))


def new_handle() -> str:
    """Return a new random user handle, base64url (WebAuthn Level 3 14.6.1)."""
    return base64url(secrets.token_bytes(HANDLE_BYTES))
