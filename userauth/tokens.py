"""Random tokens (session ids, one-time secrets) and the digests stored in their place."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from typing import TypeGuard

# What a public id looks like: URL-safe base64, as secrets.token_urlsafe makes it.
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def new_token() -> str:
    """Return a new random token: the string form of a uuid4 (122 random bits, os.urandom)."""
    return str(uuid.uuid4())


def new_public_id() -> str:
    """Return a new public id for a row a user may name (a session): 128 random bits, 22 chars.

    Random, not the row's number: consecutive numbers would tell anyone who sees two of them
    how many rows were made in between (OWASP Web Security Testing Guide, WSTG-ATHZ-04).
    It names the row, it does not authenticate: it is stored in clear.
    """
    return secrets.token_urlsafe(16)


def looks_like_public_id(value: str) -> bool:
    """Tell whether a client-supplied value can be a public id (before any query)."""
    return _PUBLIC_ID.fullmatch(value) is not None


def digest(token: str) -> str:
    """Return what is stored for a token: its SHA-256, hex.

    Tokens are random, so a fast hash suffices: a leaked table gives nothing to replay
    (OWASP Session Management cheat sheet; SPEC.md C2).
    """
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


def looks_like_token(value: str | None) -> TypeGuard[str]:
    """Tell whether a client-supplied value can be a token at all (cheap pre-check)."""
    return value is not None and 0 < len(value) <= 64
