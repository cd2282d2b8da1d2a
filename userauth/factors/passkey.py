"""Passkeys (WebAuthn credentials) as a factor: what the login transaction asks of them.

A passkey is never typed: `looks_like` refuses every code, so the code step never tries one,
and its ceremony (userauth/passkeys.py) proves it instead. Registered, it makes a password
login of an account that has one start a pending login, as TOTP does. A passkey verified with
user verification is two factors in one (something you have, unlocked by something you know
or are): RFC 8176 2 "hwk" (a key bound to its device) or "swk" (a key synced, backed up,
to other devices), plus "user" for the verified user (NIST SP 800-63B 4.2.1: AAL2).
"""

from __future__ import annotations

from datetime import datetime

from userauth.factors import USER_VERIFIED_AMR as _USER_VERIFIED
from userauth.factors import FactorContext

NAME = "passkey"
DEVICE_BOUND_AMR = "hwk"
SYNCED_AMR = "swk"
USER_VERIFIED_AMR = _USER_VERIFIED


def methods(backed_up: bool) -> tuple[str, str]:
    """Return the RFC 8176 methods a user-verified passkey login proves."""
    return (SYNCED_AMR if backed_up else DEVICE_BOUND_AMR, USER_VERIFIED_AMR)


class PasskeyFactor:
    """An account's passkeys, as a second factor."""

    name = NAME
    amr = DEVICE_BOUND_AMR

    def __init__(self, context: FactorContext) -> None:
        self._db = context.db

    def looks_like(self, code: str) -> bool:
        return False

    def enrolled(self, user_id: int) -> bool:
        return self._db.count_passkeys(user_id) > 0

    def accept(self, user_id: int, code: str, now: datetime) -> bool:
        return False
