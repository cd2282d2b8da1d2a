"""Device sessions: the session policy, and the one answer to "is this session live"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from userauth import device_names, idle_clock, tokens
from userauth.audit import NO_CLIENT, Client
from userauth.clock import as_utc
from userauth.db import DB, LiveSession, LiveWindow
from userauth.errors import SessionNotFoundError
from userauth.factors import PASSWORD_AMR, assurance_level
from userauth.idle_clock import IdleClockWriter
from userauth.models import NewSession, User
from userauth.session_cache import SessionCache

__all__ = ["LiveSession", "SessionPolicy", "SessionView", "Sessions"]

# The idle clock is written at most this often, so checking a session is not a write.
TOUCH_INTERVAL = timedelta(minutes=1)
# Each session waits between this part of the interval and all of it, by its row id, so
# sessions last written together (made in one burst, or cached together after a restart)
# do not all come due in the same instant: their writes spread over half the interval.
TOUCH_SPREAD = 0.5
# How far a stored idle clock may trail a session's last use: a touch is due at most one
# TOUCH_INTERVAL after the last one written, and the writer thread holds it a second or so
# more (idle_clock.FLUSH_SECONDS). The janitor waits this much longer before deleting an
# idle session, so it never deletes one a process still counts as live.
IDLE_CLOCK_LAG = TOUCH_INTERVAL + timedelta(minutes=1)
# Knuth's multiplicative hash: consecutive row ids land far apart in [0, 1).
_GOLDEN = 2654435761


@dataclass(frozen=True)
class SessionPolicy:
    """How long a device session lives: an idle timeout and an absolute lifetime.

    A session is live while now < expires_at and it was used within the idle timeout;
    db.sessions turns `window(now)` into the one SQL condition every check uses.
    """

    idle_timeout: timedelta
    lifetime: timedelta

    def expires_at(self, created: datetime) -> datetime:
        return created + self.lifetime

    def window(self, now: datetime) -> LiveWindow:
        """Return what a liveness check at `now` compares against."""
        return LiveWindow(now=now, idle_since=now - self.idle_timeout)

    def dead_window(self, now: datetime) -> LiveWindow:
        """Return the cut-offs before which a stored session is dead for certain at `now`.

        Expired (expires_at <= now), or unused since `idle_since`, the idle timeout plus
        IDLE_CLOCK_LAG ago: what the janitor deletes.
        """
        return LiveWindow(now=now, idle_since=now - self.idle_timeout - IDLE_CLOCK_LAG)

    def is_live(self, last_used: datetime, expires_at: datetime, now: datetime) -> bool:
        """Tell whether a session is live at `now`: window()'s SQL condition, in Python."""
        return as_utc(expires_at) > now and as_utc(last_used) > now - self.idle_timeout

    def needs_touch(self, session_id: int, last_used: datetime, now: datetime) -> bool:
        """Tell whether a use at `now` must write the session's idle clock (`last_used`).

        Every 30 to 60 s of use per session (TOUCH_SPREAD by its row id), so that checking
        a session is not a write, and sessions last written together come due apart.
        """
        # A stale clock ends a session early by up to the interval: keep that a small part
        # of a short idle timeout.
        interval = min(TOUCH_INTERVAL, self.idle_timeout / 10)
        spread = (session_id * _GOLDEN % 2**32) / 2**32
        return now - as_utc(last_used) >= interval * (1 - TOUCH_SPREAD * spread)


@dataclass(frozen=True)
class SessionView:
    """What a user may see of one of their sessions: never its session id.

    `id` is the session's public id (random), which names it for revoking.
    """

    id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    # How people name the device ("Chrome on Linux"), read from user_agent.
    device: str
    client_address: str
    current: bool
    # RFC 8176 methods the session was made with, and when its user last authenticated.
    factors: tuple[str, ...] = ()
    authenticated_at: datetime | None = None


class Sessions:
    """Start, resolve, list and end device sessions."""

    def __init__(
        self,
        db: DB,
        policy: SessionPolicy,
        clock: Callable[[], datetime],
        *,
        cache_capacity: int = 0,
    ) -> None:
        """Check sessions in `db`, keeping up to `cache_capacity` live ones in memory (0: none)."""
        self._db = db
        self._policy = policy
        self._clock = clock
        self._cache = (
            SessionCache(db.session_changes, policy, cache_capacity) if cache_capacity else None
        )
        # None in tests and tools; a served worker starts one (write_idle_clocks_in_background).
        self._idle_clock: IdleClockWriter | None = None

    def start(
        self,
        user: User,
        *,
        client: Client = NO_CLIENT,
        amr: tuple[str, ...] = (PASSWORD_AMR,),
        pending: int | None = None,
    ) -> str | None:
        """Start a session for the user, made with the RFC 8176 methods `amr`; return its id.

        None if the account's credentials changed since `user` was read (its credential
        version moved), the account was disabled, or `pending` (a pending login's id, spent
        by this session) is gone (see DB.add_session).
        """
        session_id = tokens.new_token()
        now = self._clock()
        row = NewSession(
            user_id=user.id,
            id_digest=tokens.digest(session_id),
            public_id=tokens.new_public_id(),
            created_at=now,
            last_used_at=now,
            expires_at=self._policy.expires_at(now),
            user_agent=client.user_agent,
            client_address=client.address,
            amr=" ".join(amr),
            aal=assurance_level(amr),
            authenticated_at=now,
        )
        window = self._policy.window(now)
        added = self._db.add_session(
            row,
            checked_version=user.credential_version,
            idle_since=window.idle_since,
            spend_pending=pending,
        )
        return session_id if added else None

    def reauthenticated(self, live: LiveSession) -> LiveSession:
        """Record that the session's user just authenticated again; return the session as it
        is now (cached copies of it are dropped: the store announces the change)."""
        now = self._clock()
        self._db.record_authentication(live.user_id, live.id, now)
        return replace(live, authenticated_at=now)

    def authenticated_within(self, live: LiveSession, window: timedelta) -> bool:
        """Tell whether the session's user authenticated within `window` of now."""
        authenticated_at = live.authenticated_at
        return authenticated_at is not None and self._clock() - authenticated_at < window

    def resolve(self, session_id: str | None) -> LiveSession | None:
        """Return the live session with this id and its enabled user, or None.

        A session in this process's cache is answered without a query (session_cache.py);
        otherwise the database answers, and a live answer is cached.
        """
        if not tokens.looks_like_token(session_id):
            return None
        now = self._clock()
        digest = tokens.digest(session_id)
        cache = self._cache
        live = None if cache is None else cache.get(digest, now)
        if live is None:
            before = None if cache is None else cache.version()
            live = self._db.find_live_session(digest, self._policy.window(now))
            if live is None:
                return None
            if cache is not None:
                cache.fill(digest, live, before)
        # The idle clock moves as often with the cache as without: a hit is a use.
        if self._policy.needs_touch(live.id, live.last_used_at, now):
            self._touch(live.id, digest, now)
        return live

    def cached(self, session_id: str | None) -> LiveSession | None:
        """Return the live session when this process's cache answers for it alone, else None.

        None means "resolve it" (no cache, not cached, or its idle clock is due a write and
        no writer thread takes it), never "no such session": the caller then takes the full
        path, `resolve`.
        """
        cache = self._cache
        if cache is None or not tokens.looks_like_token(session_id):
            return None
        now = self._clock()
        digest = tokens.digest(session_id)
        live = cache.get(digest, now)
        if live is None:
            return None
        writer = self._idle_clock
        if self._policy.needs_touch(live.id, live.last_used_at, now):
            if writer is None or not writer.record(live.id, now):
                return None  # no writer thread: the full path writes it in the request
            cache.touched(digest, now)
        return live

    def write_idle_clocks_in_background(
        self, interval: float = idle_clock.FLUSH_SECONDS
    ) -> IdleClockWriter:
        """Write idle clocks from a thread, every `interval` seconds, from now on; return it.

        A served worker calls this once and stops the writer when it ends (the stop writes
        what is left: idle_clock.py). Until then, and without it, a use due a write makes it
        in the request.
        """
        if self._idle_clock is None:
            self._idle_clock = IdleClockWriter(self._db.touch_sessions, interval)
            self._idle_clock.start()
        return self._idle_clock

    def _touch(self, session_id: int, digest: str, now: datetime) -> None:
        writer = self._idle_clock
        if writer is None or not writer.record(session_id, now):
            self._db.touch_session(session_id, now)
        if self._cache is not None:
            self._cache.touched(digest, now)

    def list(self, live: LiveSession) -> list[SessionView]:
        """Return the live sessions of the session's user, newest first, marking it."""
        rows = self._db.list_live_sessions(live.user_id, self._policy.window(self._clock()))
        return [
            SessionView(
                id=row.public_id,
                created_at=as_utc(row.created_at),
                last_used_at=as_utc(row.last_used_at),
                expires_at=as_utc(row.expires_at),
                user_agent=row.user_agent,
                device=device_names.describe(row.user_agent),
                client_address=row.client_address,
                current=row.id == live.id,
                factors=tuple(row.amr.split()),
                authenticated_at=as_utc(row.authenticated_at or row.created_at),
            )
            for row in rows
        ]

    def count_live(self, user_id: int | None = None) -> int:
        """Count live sessions, of one user when given (metrics, administration)."""
        return self._db.count_live_sessions(self._policy.window(self._clock()), user_id=user_id)

    def end(self, live: LiveSession) -> None:
        """End this session only (a logout on one device)."""
        self._db.delete_session(live.user_id, live.id)

    def revoke(self, live: LiveSession, public_id: str) -> None:
        """End one of the session user's sessions, chosen by its public id (SessionView.id).

        Raises:
            SessionNotFoundError: the id names none of the user's sessions.
        """
        # A malformed id (a NUL, which PostgreSQL refuses, or a megabyte) costs no query.
        if not tokens.looks_like_public_id(public_id):
            raise SessionNotFoundError
        if not self._db.delete_session_by_public_id(live.user_id, public_id):
            raise SessionNotFoundError

    def end_others(self, live: LiveSession) -> int:
        """End every session of the user but this one; return how many were stored."""
        ended = self._db.count_sessions(live.user_id) - 1
        self._db.delete_sessions(live.user_id, keep=live.id)
        return max(ended, 0)

    def end_all(self, user_id: int) -> int:
        """End every session of a user; return how many were stored."""
        ended = self._db.count_sessions(user_id)
        self._db.delete_sessions(user_id)
        return ended
