"""Recovery codes as a second factor: ten single-use codes, shown once, stored as digests.

Each code is 12 characters of base32 (60 bits, above the 50 asked of look-up secrets;
NIST SP 800-63B 5.1.2.1 asks at least 20 bits for those, so guessing online is hopeless), shown
as three groups of four. Using one deletes it, so of two requests with one code, one wins.
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
LENGTH = 12
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32: 5 bits a character
_CODE = re.compile(f"[{_ALPHABET}]{{{LENGTH}}}")


def new_codes() -> list[str]:
    """Return COUNT new codes, as shown: "abcd-efgh-ijkm"."""
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
