"""Session ids and reset tokens: generation, digests at rest, and expiry."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

# The idle clock is written at most this often, so checking a session is not a write.
TOUCH_INTERVAL = timedelta(minutes=1)


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


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return a stored time as aware UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SessionPolicy:
    """How long a device session lives: an idle timeout and an absolute lifetime."""

    idle_timeout: timedelta
    lifetime: timedelta

    def expires_at(self, created: datetime) -> datetime:
        return created + self.lifetime

    def is_live(self, last_used: datetime, expires: datetime, now: datetime) -> bool:
        return now < as_utc(expires) and now - as_utc(last_used) < self.idle_timeout

    def needs_touch(self, last_used: datetime, now: datetime) -> bool:
        # A stale clock ends a session early by up to the interval: keep that a small part
        # of a short idle timeout.
        interval = min(TOUCH_INTERVAL, self.idle_timeout / 10)
        return now - as_utc(last_used) >= interval
