"""Recovery codes as a second factor: ten single-use codes, shown once, stored as digests.

Each code is 24 characters of base32: 120 bits, so that a plain SHA-256 digest is a safe
way to store it (NIST SP 800-63B 5.1.2.2 asks look-up secrets under 112 bits to be salted and
hashed with a key derivation function, since a stolen table of short codes is cheap to
search). Shown as six groups of four. Using one deletes it, so of two requests with one code,
one wins.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from userauth import tokens
from userauth.factors import FactorContext

NAME = "recovery_code"
AMR = "otp"  # RFC 8176 2: a one-time password, as printed look-up secrets are
COUNT = 10
LENGTH = 24
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: 5 bits a character
_CODE = re.compile(f"[{_ALPHABET}]{{{LENGTH}}}")


def new_codes() -> list[str]:
    """Return COUNT new codes, as shown: "abcd-efgh-ijkm-nopq-rstu-vwxy"."""
    return [
        _shown("".join(secrets.choice(_ALPHABET) for _ in range(LENGTH))) for _ in range(COUNT)
    ]


def _shown(code: str) -> str:
    return "-".join(code[start : start + 4] for start in range(0, LENGTH, 4))


def normalize(code: str) -> str:
    """Return a code as typed, without dashes or spaces, in lower case."""
    return "".join(code.split()).replace("-", "").lower()


def digest(code: str) -> str:
    """Return what is stored for a code: the digest of its normalized form."""
    return tokens.digest(normalize(code))


class RecoveryCodeFactor:
    """An account's unused recovery codes."""

    name = NAME
    amr = AMR

    def __init__(self, context: FactorContext) -> None:
        self._db = context.db

    def looks_like(self, code: str) -> bool:
        return _CODE.fullmatch(normalize(code)) is not None

    def enrolled(self, user_id: int) -> bool:
        return self._db.count_recovery_codes(user_id) > 0

    def accept(self, user_id: int, code: str, now: datetime) -> bool:
        return self.looks_like(code) and self._db.spend_recovery_code(user_id, digest(code))
