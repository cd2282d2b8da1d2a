"""Device sessions: the session check on every request, and their lifecycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from userauth.db.base import Store, end_sessions, record_newest_session
from userauth.db.reads import PreparedRead
from userauth.models import DeviceSession, DisabledUser, User


class LiveSession:
    """A device session joined with its user, as the session check needs it."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row
        self.id: int = row["id"]
        self.user_id: int = row["user_id"]
        self.email: str = row["email"]
        self.last_used_at: datetime = row["last_used_at"]
        self.expires_at: datetime = row["expires_at"]

    @cached_property
    def user(self) -> User:
        """The session's user as a (detached) User, built only when asked for."""
        row = self._row
        return User(
            id=row["user_id"],
            email=row["email"],
            hashed_password=row["hashed_password"],
            session_id=row["session_id"],
            reset_token=row["reset_token"],
        )


_LIVE_SESSION = (
    select(
        DeviceSession.id,
        DeviceSession.last_used_at,
        DeviceSession.expires_at,
        User.id.label("user_id"),
        User.email,
        User.hashed_password,
        User.session_id,
        User.reset_token,
        DisabledUser.user_id.label("disabled"),
    )
    .join(User, User.id == DeviceSession.user_id)
    .outerjoin(DisabledUser, DisabledUser.user_id == User.id)
    .where(DeviceSession.id_digest == bindparam("digest"))
)
_TOUCH_SESSION = (
    update(DeviceSession)
    .where(DeviceSession.id == bindparam("session"))
    .values(last_used_at=bindparam("now"))
)


class SessionStore(Store):
    """Device sessions."""

    @cached_property
    def _live_session_read(self) -> PreparedRead:
        return self._prepare(_LIVE_SESSION)

    def add_session(self, row: DeviceSession, *, idle_since: datetime) -> None:
        """Store a new device session and record it as the user's newest.

        The user's dead sessions (expired, or unused since `idle_since`) go at the same time,
        so the table holds live sessions and a few stale ones, not every login ever made.
        """
        with self._transaction() as session:
            session.execute(
                delete(DeviceSession).where(
                    DeviceSession.user_id == row.user_id,
                    (DeviceSession.expires_at <= row.created_at)
                    | (DeviceSession.last_used_at <= idle_since),
                )
            )
            session.add(row)
            session.execute(
                update(User).where(User.id == row.user_id).values(session_id=row.id_digest)
            )

    def find_live_session(self, id_digest: str) -> LiveSession | None:
        """Return the session with this digest and its enabled user, or None.

        The check behind every authenticated request: one indexed query, run without an
        ORM session or a transaction (it is a single read).
        """
        row = self._read_one(self._live_session_read, {"digest": id_digest})
        if row is None or row["disabled"] is not None:
            return None
        return LiveSession(row)

    def touch_session(self, session_id: int, now: datetime) -> None:
        """Move a session's idle clock forward."""
        with self._engine.begin() as connection:
            connection.execute(_TOUCH_SESSION, {"session": session_id, "now": now})

    def list_sessions(self, user_id: int) -> Sequence[DeviceSession]:
        """Return a user's device sessions, newest first."""
        statement = (
            select(DeviceSession)
            .where(DeviceSession.user_id == user_id)
            .order_by(DeviceSession.created_at.desc(), DeviceSession.id.desc())
        )
        with self._sessions() as session:
            return session.scalars(statement).all()

    def delete_session(self, user_id: int, session_id: int) -> bool:
        """End one session of a user; tell whether it existed."""
        with self._transaction() as session:
            result = session.execute(
                delete(DeviceSession).where(
                    DeviceSession.id == session_id, DeviceSession.user_id == user_id
                )
            )
            record_newest_session(session, user_id)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete_sessions(self, user_id: int, *, keep: int | None = None) -> None:
        """End every session of a user, except `keep` when given."""
        with self._transaction() as session:
            end_sessions(session, user_id, keep=keep)
