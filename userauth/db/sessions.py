"""Device sessions at rest: the session check, their lifecycle, and the one liveness query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, update

from userauth.clock import as_utc
from userauth.db.base import (
    Store,
    UnitOfWork,
    enabled,
    end_sessions,
    record_newest_session,
    rerun_once_if_disconnected,
    retry_if_disconnected,
    spend_pending_login,
)
from userauth.models import (
    DeviceSession,
    NewSession,
    User,
    disabled_users_table,
    record,
    sessions_table,
    users_table,
)

_sessions = sessions_table.c
_users = users_table.c
_disabled = disabled_users_table.c


@dataclass(frozen=True)
class LiveWindow:
    """The moment of a liveness check, and the idle cut-off the session policy derives from it."""

    now: datetime
    idle_since: datetime


def _is_live(now: Any, idle_since: Any) -> ColumnElement[bool]:
    """The SQL condition for a live session: within its lifetime and used since `idle_since`.

    Every query that asks "is this session live" (the check, the lists, the count) uses it,
    with values or, for the prebuilt session check, bound parameters.
    """
    condition: ColumnElement[bool] = (_sessions.expires_at > now) & (
        _sessions.last_used_at > idle_since
    )
    return condition


@dataclass(frozen=True)
class LiveSession:
    """A live device session joined with its enabled user, as the session check reads it.

    Its clocks are aware UTC datetimes, on every backend.
    """

    id: int
    user_id: int
    email: str
    last_used_at: datetime
    expires_at: datetime
    # Secrets stay out of repr (and so out of logs and tracebacks): the bcrypt hash, and the
    # digest of the user's newest session id.
    hashed_password: bytes = field(default=b"", repr=False)
    newest_session: str | None = field(default=None, repr=False)
    # How the session was made (RFC 8176 amr values), the NIST SP 800-63B assurance level
    # they reach, and when its user last authenticated (a login or a re-authentication).
    amr: tuple[str, ...] = ("pwd",)
    aal: int = 1
    authenticated_at: datetime | None = None
    credential_version: int = 1
    # When the address was verified (verification.py); None: not verified.
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        """Whether the user's address is verified."""
        return self.email_verified_at is not None

    # The id the user sees (GET /sessions); what outlives-the-row references use (OIDC tokens).
    public_id: str = ""

    @property
    def user(self) -> User:
        """The session's user, as the store reads it."""
        return User(
            id=self.user_id,
            email=self.email,
            hashed_password=self.hashed_password,
            session_id=self.newest_session,
            credential_version=self.credential_version,
            email_verified_at=self.email_verified_at,
        )


_LIVE_SESSION = (
    select(
        _sessions.id,
        _sessions.public_id,
        _sessions.last_used_at,
        _sessions.expires_at,
        _sessions.amr,
        _sessions.aal,
        _sessions.authenticated_at,
        _users.id.label("user_id"),
        _users.credential_version,
        _users.email,
        _users.hashed_password,
        _users.session_id,
        _users.email_verified_at,
    )
    .join(users_table, _users.id == _sessions.user_id)
    .outerjoin(disabled_users_table, _disabled.user_id == _users.id)
    .where(
        _disabled.user_id.is_(None),
        _sessions.id_digest == bindparam("digest"),
        _is_live(bindparam("now"), bindparam("idle_since")),
    )
)


# GET /sessions reads this on every call: built once, with bound parameters, so a request
# pays no statement construction (SQLAlchemy caches the compiled form by its key either way).
_LIVE_SESSIONS_OF_USER = (
    select(sessions_table)
    .where(
        _sessions.user_id == bindparam("user_id"),
        _is_live(bindparam("now"), bindparam("idle_since")),
    )
    .order_by(_sessions.created_at.desc(), _sessions.id.desc())
)


# A login's writes, built once: the users row claimed under the checked credential version,
# the user's dead sessions swept, the new session stored.
_CLAIM_USER = (
    update(users_table)
    .where(
        _users.id == bindparam("user_id"),
        _users.credential_version == bindparam("checked_version"),
        enabled(_users.id),
    )
    .values(session_id=bindparam("id_digest"))
)
_DELETE_DEAD_SESSIONS = delete(sessions_table).where(
    _sessions.user_id == bindparam("user_id"),
    (_sessions.expires_at <= bindparam("now"))
    | (_sessions.last_used_at <= bindparam("idle_since")),
)
_INSERT_SESSION = insert(sessions_table)


class _NotClaimedError(Exception):
    """The user's credentials changed, or the pending login was spent: roll back."""


class SessionStore(Store):
    """Device sessions."""

    @rerun_once_if_disconnected
    def add_session(
        self,
        row: NewSession,
        *,
        checked_version: int,
        idle_since: datetime,
        spend_pending: int | None = None,
    ) -> bool:
        """Store a new device session if the user's credential version is still
        `checked_version`; tell whether.

        The users row is written first, conditionally: a credential change that committed
        meanwhile makes the condition fail (PostgreSQL re-checks it after waiting for the
        row lock; SQLite runs one writer at a time), and one that comes after finds this
        session and ends it. So no session made with superseded credentials survives.
        With `spend_pending` (a pending login's id), only if that pending login is still
        there, deleted in the same transaction: a pending login completes once.
        The user's dead sessions (expired, or unused since `idle_since`) go at the same time.
        """
        try:
            with self._transaction() as work:
                self._claim_user(work, row, checked_version, spend_pending)
                self._add_session(work, row, idle_since)
        except _NotClaimedError:
            return False
        return True

    @staticmethod
    def _claim_user(
        work: UnitOfWork, row: NewSession, checked_version: int, spend_pending: int | None
    ) -> None:
        claimed = work.execute(
            _CLAIM_USER,
            {
                "user_id": row.user_id,
                "checked_version": checked_version,
                "id_digest": row.id_digest,
            },
        )
        if not claimed.rowcount:
            raise _NotClaimedError
        if spend_pending is not None and not spend_pending_login(work, spend_pending):
            raise _NotClaimedError  # rolls the claim back

    @staticmethod
    def _add_session(work: UnitOfWork, row: NewSession, idle_since: datetime) -> None:
        # users.session_id moved: cached checks of this user's sessions carry it.
        work.announce(row.user_id)
        dead = {"user_id": row.user_id, "now": row.created_at, "idle_since": idle_since}
        work.execute(_DELETE_DEAD_SESSIONS, dead)
        work.execute(_INSERT_SESSION, asdict(row))

    def find_live_session(self, id_digest: str, window: LiveWindow) -> LiveSession | None:
        """Return the live session with this digest and its enabled user, or None.

        The check behind every authenticated request: one indexed query, liveness included.
        """
        values = {"digest": id_digest, "now": window.now, "idle_since": window.idle_since}

        def read() -> Any:
            # A prebuilt statement on a connection outside any transaction: the check runs
            # on every authenticated request, and needs no BEGIN.
            with self._reads.connect() as connection:
                return connection.execute(_LIVE_SESSION, values).first()

        row = retry_if_disconnected(read)
        if row is None:
            return None
        return LiveSession(
            id=row.id,
            user_id=row.user_id,
            email=row.email,
            last_used_at=as_utc(row.last_used_at),
            expires_at=as_utc(row.expires_at),
            hashed_password=row.hashed_password,
            newest_session=row.session_id,
            amr=tuple(row.amr.split()),
            aal=row.aal,
            authenticated_at=as_utc(row.authenticated_at),
            credential_version=row.credential_version,
            email_verified_at=None
            if row.email_verified_at is None
            else as_utc(row.email_verified_at),
            public_id=row.public_id,
        )

    def touch_session(self, session_id: int, now: datetime) -> None:
        """Move a session's idle clock forward to `now` (a later stored clock stays)."""
        self.touch_sessions({session_id: now})

    @rerun_once_if_disconnected
    def touch_sessions(self, touches: Mapping[int, datetime]) -> None:
        """Move several sessions' idle clocks forward in one transaction (idle_clock.py).

        Args:
            touches: {session row id: time of its latest use}. A stored clock already
                later (another process wrote a later use) is left as it is.
        """
        statement = (
            update(sessions_table)
            .where(
                _sessions.id == bindparam("session_id"),
                _sessions.last_used_at < bindparam("used_at"),
            )
            .values(last_used_at=bindparam("used_at"))
        )
        # In row order: two processes' batches then lock shared rows in the same order, and
        # cannot deadlock on PostgreSQL (each holding a row the other waits for).
        rows = [{"session_id": key, "used_at": moment} for key, moment in sorted(touches.items())]
        with self._transaction() as work:
            work.execute(statement, rows)

    @rerun_once_if_disconnected
    def list_live_sessions(self, user_id: int, window: LiveWindow) -> Sequence[DeviceSession]:
        """Return a user's live device sessions, newest first."""
        values = {"user_id": user_id, "now": window.now, "idle_since": window.idle_since}
        with self._connect() as connection:
            rows = connection.execute(_LIVE_SESSIONS_OF_USER, values)
            return [record(DeviceSession, row) for row in rows]

    @rerun_once_if_disconnected
    def count_live_sessions(self, window: LiveWindow, *, user_id: int | None = None) -> int:
        """Count live device sessions, of one user when `user_id` is given."""
        statement = (
            select(func.count())
            .select_from(sessions_table)
            .where(_is_live(window.now, window.idle_since))
        )
        if user_id is not None:
            statement = statement.where(_sessions.user_id == user_id)
        with self._connect() as connection:
            return int(connection.scalar(statement) or 0)

    @rerun_once_if_disconnected
    def count_sessions(self, user_id: int) -> int:
        """Count a user's stored sessions, live or not."""
        statement = (
            select(func.count()).select_from(sessions_table).where(_sessions.user_id == user_id)
        )
        with self._connect() as connection:
            return int(connection.scalar(statement) or 0)

    @rerun_once_if_disconnected
    def record_authentication(self, user_id: int, session_id: int, now: datetime) -> None:
        """Record that the session's user authenticated again at `now` (re-authentication)."""
        with self._transaction() as work:
            work.execute(
                update(sessions_table)
                .where(_sessions.id == session_id, _sessions.user_id == user_id)
                .values(authenticated_at=now)
            )
            # Cached checks of this user's sessions carry authenticated_at: they must reload.
            work.announce(user_id)

    @rerun_once_if_disconnected
    def delete_session(self, user_id: int, session_id: int) -> bool:
        """End one session of a user; tell whether it existed."""
        with self._transaction() as work:
            result = work.execute(
                delete(sessions_table).where(
                    _sessions.id == session_id, _sessions.user_id == user_id
                )
            )
            record_newest_session(work, user_id)
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def delete_session_by_public_id(self, user_id: int, public_id: str) -> bool:
        """End the session of a user that has this public id; tell whether it existed."""
        with self._transaction() as work:
            result = work.execute(
                delete(sessions_table).where(
                    _sessions.public_id == public_id, _sessions.user_id == user_id
                )
            )
            record_newest_session(work, user_id)
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def delete_sessions(self, user_id: int, *, keep: int | None = None) -> None:
        """End every session of a user, except `keep` when given."""
        with self._transaction() as work:
            end_sessions(work, user_id, keep=keep)
