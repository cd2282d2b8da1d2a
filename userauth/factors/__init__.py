"""Authentication factors: one small protocol, and a registry of factors by name.

A factor proves a code for an account (`accept`), says whether the account has it
(`enrolled`) and names the RFC 8176 method it stands for (`amr`). The login transaction
(login_transactions.py) and re-authentication ask every registered second factor the
account has, in registration order; so a new factor (passkeys next) is a new module here and
one `register` call below, not an edit of the core (passkey.py is one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from userauth.db import DB
from userauth.secret_box import SecretBox

# RFC 8176 2: "pwd" password, "otp" one-time password (TOTP and recovery codes alike).
PASSWORD_AMR = "pwd"  # noqa: S105 - a method name, not a password
# RFC 8176 2: "hwk"/"swk" proof of a hardware/software key; "user" the user was verified.
CRYPTOGRAPHIC_AMR = frozenset({"hwk", "swk"})
USER_VERIFIED_AMR = "user"


class SecondFactor(Protocol):
    """A second factor, as the login transaction and re-authentication use it."""

    # The name clients see (`"factors": ["totp", "recovery_code"]`) and the registry's key.
    name: str
    # The RFC 8176 authentication method reference a session made with it records.
    amr: str

    def looks_like(self, code: str) -> bool:
        """Tell, without I/O, whether a code has this factor's form."""

    def enrolled(self, user_id: int) -> bool:
        """Tell whether the account has this factor ready to use."""

    def accept(self, user_id: int, code: str, now: datetime) -> bool:
        """Check a code and spend it (a code is accepted once); tell whether it was right."""


@dataclass(frozen=True)
class FactorContext:
    """What a factor may use: the store, the box for readable secrets, the clock."""

    db: DB
    box: SecretBox
    clock: Callable[[], datetime]


FactorMaker = Callable[[FactorContext], SecondFactor]
_registry: dict[str, FactorMaker] = {}


def register(name: str, make: FactorMaker) -> None:
    """Register a second factor under its name; later registrations are tried later."""
    _registry[name] = make


def build(context: FactorContext) -> dict[str, SecondFactor]:
    """Return one of each registered second factor, by name, in registration order."""
    return {name: make(context) for name, make in _registry.items()}


def assurance_level(amr: tuple[str, ...]) -> int:
    """Return the NIST SP 800-63B authenticator assurance level these methods reach.

    AAL1: one factor (4.1); AAL2: two distinct factors, a password and a one-time password
    or a cryptographic authenticator (4.2), or a multi-factor cryptographic authenticator
    alone: a passkey with user verification (4.2.1, 5.1.9). AAL3 needs hardware guarantees
    this service does not verify.
    """
    methods = set(amr)
    if PASSWORD_AMR in methods and len(methods) >= 2:
        return 2
    # A cryptographic authenticator that verified its user is multi-factor by itself (4.2.1).
    return 2 if USER_VERIFIED_AMR in methods and methods & CRYPTOGRAPHIC_AMR else 1


def _register_built_in() -> None:
    # Imported here: each module imports this one for the protocol.
    from userauth.factors import passkey, recovery_code, totp

    register(totp.NAME, totp.TotpFactor)
    register(recovery_code.NAME, recovery_code.RecoveryCodeFactor)
    register(passkey.NAME, passkey.PasskeyFactor)


_register_built_in()
