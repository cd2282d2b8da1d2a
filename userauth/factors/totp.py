"""TOTP (RFC 6238) as a second factor: SHA-1, 6 digits, 30-second steps, one step either way.

The seed is random (160 bits, RFC 4226 4 R6) and stored encrypted (secret_box.py): it must be
read back to compute codes. A code is accepted once: the last accepted time step is stored,
and only a later step is accepted, by one conditional UPDATE, so a code replayed through two
workers at once is accepted by one of them (RFC 6238 5.2).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

from userauth.factors import FactorContext

NAME = "totp"
AMR = "otp"  # RFC 8176 2
DIGITS = 6
PERIOD_SECONDS = 30
# Steps accepted before and after the current one: a clock a little off, a code typed late
# (RFC 6238 5.2 recommends at most one).
DRIFT_STEPS = 1
ISSUER = "userauth"
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """Return a new seed, base32 (32 characters: 160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def normalize(code: str) -> str:
    """Return a code as typed without its spaces ("123 456" is "123456")."""
    return "".join(code.split())


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """Return the time step (RFC 6238 4.2: T = unix time // 30) whose code this is, within
    DRIFT_STEPS of now, or None."""
    code = normalize(code)
    if _CODE.fullmatch(code) is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS)
    current = int(now.timestamp()) // PERIOD_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class TotpFactor:
    """The confirmed TOTP factor of an account."""

    name = NAME
    amr = AMR

    def __init__(self, context: FactorContext) -> None:
        self._db = context.db
        self._box = context.box

    def looks_like(self, code: str) -> bool:
        return _CODE.fullmatch(normalize(code)) is not None

    def enrolled(self, user_id: int) -> bool:
        return any(
            f.type == NAME and f.confirmed_at is not None for f in self._db.factors_of(user_id)
        )

    def accept(self, user_id: int, code: str, now: datetime) -> bool:
        for factor in self._db.factors_of(user_id):
            if factor.type != NAME or factor.confirmed_at is None or factor.secret is None:
                continue
            step = matching_step(self._box.open(factor.secret), code, now)
            if step is not None and self._db.use_step(factor.id, step, now):
                return True
        return False
