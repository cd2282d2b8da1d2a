"""Random tokens (session ids, one-time secrets) and the digests stored in their place."""

from __future__ import annotations

import hashlib
import uuid
from typing import TypeGuard


def new_token() -> str:
    """Return a new random token: the string form of a uuid4 (122 random bits, os.urandom)."""
    return str(uuid.uuid4())


def digest(token: str) -> str:
    """Return what is stored for a token: its SHA-256, hex.

    Tokens are random, so a fast hash suffices: a leaked table gives nothing to replay
    (OWASP Session Management cheat sheet; SPEC.md C2).
    """
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def looks_like_token(value: str | None) -> TypeGuard[str]:
    """Tell whether a client-supplied value can be a token at all (cheap pre-check)."""
    return value is not None and 0 < len(value) <= 64
