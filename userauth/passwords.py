"""Passwords: Unicode normalisation, hashing, verification, cost upgrades and the policy."""

from __future__ import annotations

import gzip
import os
import unicodedata
from enum import Enum
from functools import cache
from importlib.resources import files

import bcrypt

from userauth.errors import PasswordPolicyError
from userauth.hashing import HashingPool, default_threads
from userauth.models import NO_PASSWORD

# bcrypt reads at most 72 bytes; bcrypt 5 refuses longer input rather than truncating, and
# so do we, so two passwords sharing a 72-byte prefix can never match each other.
MAX_BYTES = 72
PRODUCTION_MIN_LENGTH = 8

# Every bcrypt run of this process goes through one pool (hashing.py), sized by the settings
# of the app it serves (use_hashing_threads); until then, one thread per core.
_pool = HashingPool(default_threads(len(os.sched_getaffinity(0)), 1))


def use_hashing_threads(threads: int) -> None:
    """Run at most `threads` bcrypt hashes or checks at once in this process from now on.

    Raises:
        ValueError: `threads` is below 1.
    """
    global _pool  # one pool per process: its threads share the one machine
    if threads != _pool.threads:
        _pool = HashingPool(threads)


class Match(Enum):
    """How a password matched a stored hash."""

    NONE = "none"
    # The normalised form matched: the hash is current.
    CURRENT = "current"
    # Only the raw form matched: a hash made before normalisation, to be made again.
    LEGACY = "legacy"


def normalize(plain: str) -> str:
    """Return the form of a password that is hashed: Unicode NFKC.

    NIST SP 800-63B 5.1.1.2: the same password typed on another keyboard or system
    ("é" as one code point, or "e" and a combining accent) must be the same password.
    """
    return unicodedata.normalize("NFKC", plain)


def hash_password(plain: str, rounds: int) -> bytes:
    """Return a salted bcrypt hash of the normalised password at the given cost.

    Raises:
        PasswordPolicyError: the normalised password is longer than 72 bytes.
    """
    encoded = _encode(normalize(plain))
    return _pool.run(lambda: bcrypt.hashpw(encoded, bcrypt.gensalt(rounds)))


def is_set(stored: bytes) -> bool:
    """Tell whether the account has a password (its hash is not NO_PASSWORD)."""
    return stored != NO_PASSWORD


def check(plain: str, stored: bytes) -> Match:
    """Tell how the password matches the stored hash; never raise on bad input.

    Hashes made before passwords were normalised hold the raw form: when the normalised
    form fails and differs, the raw form is tried too (the caller then re-hashes).
    """
    normalized = normalize(plain)
    if _checkpw(normalized, stored):
        return Match.CURRENT
    if normalized != plain and _checkpw(plain, stored):
        return Match.LEGACY
    return Match.NONE


def verify(plain: str, stored: bytes) -> bool:
    """Tell whether the password matches the stored hash, in either form."""
    return check(plain, stored) is not Match.NONE


def burn_verify_time(rounds: int, plain: str = "") -> None:
    """Spend the time `check` would spend on this password at this cost, with no hash.

    An unknown email must cost as much as a wrong password, or the response time tells an
    attacker which emails have accounts (OWASP Authentication cheat sheet, user enumeration);
    so a password whose normalised form differs costs two runs here as in `check`.
    """
    runs = 1 if normalize(plain) == plain else 2
    dummy = _dummy_hash(rounds)
    for _ in range(runs):
        _pool.run(lambda: bcrypt.checkpw(b"not the password", dummy))


def _checkpw(plain: str, stored: bytes) -> bool:
    try:
        encoded: bytes | None = _encode(plain)
    except PasswordPolicyError:
        encoded = None
    try:
        # An over-long password still costs one bcrypt run, like any wrong password, so
        # its timing cannot tell a registered email from an unknown one.
        matched = _pool.run(lambda: bcrypt.checkpw(encoded or b"", stored))
    except (ValueError, TypeError):
        return False
    return encoded is not None and matched


def needs_rehash(stored: bytes, rounds: int) -> bool:
    """Tell whether a hash was made at a lower cost than the configured one."""
    try:
        return int(stored.split(b"$")[2]) < rounds
    except (IndexError, ValueError):
        return False


def check_policy(plain: str, *, email: str | None = None, strict: bool = False) -> None:
    """Check a new password against the policy; strict is production's (NIST 800-63B 5.1.1).

    Raises:
        PasswordPolicyError: naming the first rule the password breaks.
    """
    if not plain:
        raise PasswordPolicyError("password is required")
    plain = normalize(plain)
    _encode(plain)
    if not strict:
        return
    if len(plain) < PRODUCTION_MIN_LENGTH:
        raise PasswordPolicyError(
            f"password must be at least {PRODUCTION_MIN_LENGTH} characters long"
        )
    if email is not None and plain.strip().lower() == email.strip().lower():
        raise PasswordPolicyError("password must not be the email address")
    if _is_common(plain):
        raise PasswordPolicyError("password is too common; choose one that is harder to guess")


def _encode(plain: str) -> bytes:
    encoded = plain.encode("utf-8", errors="surrogatepass")
    if len(encoded) > MAX_BYTES:
        raise PasswordPolicyError(f"password must be at most {MAX_BYTES} bytes long")
    return encoded


def _is_common(plain: str) -> bool:
    """Return whether the password, in any case, is on the shipped list of common ones."""
    candidate = plain.lower()
    # No listed password holds whitespace (the list is split on it); one with a line break
    # must not match across two neighbouring lines of the text below.
    if not candidate or any(character.isspace() for character in candidate):
        return False
    return b"\n" + candidate.encode("utf-8", errors="surrogatepass") + b"\n" in _common_passwords()


@cache
def _common_passwords() -> bytes:
    """Load the shipped list of common passwords (source: userauth/data/README.md).

    One UTF-8 text, a password a line, framed by line breaks: 140 kB where a frozenset of
    its 19,640 strings held 2 MB in every worker that checked a production password; a
    search of it takes microseconds next to bcrypt's hundreds of milliseconds.
    """
    packed = files("userauth").joinpath("data/common-passwords.txt.gz").read_bytes()
    words = gzip.decompress(packed).decode("utf-8").split()
    return ("\n" + "\n".join(words) + "\n").encode("utf-8")


_dummy_hashes: dict[int, bytes] = {}


def _dummy_hash(rounds: int) -> bytes:
    if rounds not in _dummy_hashes:
        salt = bcrypt.gensalt(rounds)
        _dummy_hashes[rounds] = _pool.run(lambda: bcrypt.hashpw(b"dummy password", salt))
    return _dummy_hashes[rounds]
