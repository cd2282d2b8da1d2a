"""Persistence: the only module that opens a Session or commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, bindparam, create_engine, delete, event, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError, NoResultFound
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

from userauth import migrations, sqlite
from userauth.errors import EmailTakenError, UnknownFieldError
from userauth.models import AuditEvent, DeviceSession, DisabledUser, PasswordReset, User

DEFAULT_URL = "sqlite:///a.db"


@dataclass(frozen=True)
class LiveSession:
    """A device session joined with its user, as the session check needs it."""

    id: int
    user: User
    last_used_at: datetime
    expires_at: datetime


def make_engine(url: str = DEFAULT_URL, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL mode, a busy timeout and foreign keys."""
    # Bound parameters (hashes, digests) never reach a log line or an error message.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        # No pre-ping (a round trip per request): reads retry once on a dropped connection.
        pool_recycle=3600,
        pool_size=10,
        max_overflow=20,
        # A database host that drops packets must fail readiness, not hang it.
        connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {},
    )


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    sqlite.configure(dbapi_connection)


# Built once: composing a statement costs more than running it on SQLite.
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


class DB:
    """The user store. `DB()` opens (and creates if missing) the default database."""

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        if url is None:
            from userauth.settings import Settings

            settings = Settings.from_env()
            url, echo = settings.database_url, settings.sql_echo
        self._engine = make_engine(url, echo=echo)
        # The contract's DB() creates what is missing and drops nothing: an empty database
        # gets the schema, an earlier one is upgraded (migrations only add). `userauth serve`
        # checks before it gets here and refuses a database that is behind.
        migrations.ensure_current(self._engine, auto_migrate=True)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        # Single reads need no transaction: no BEGIN and ROLLBACK round trips around them.
        self._reader = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._local = threading.local()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (migrations and health checks use it)."""
        return self._engine

    @property
    def _session(self) -> Session:
        """The SQLAlchemy session of the calling thread (memoized, never shared)."""
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._sessions()
            self._local.session = session
        return session

    def _read_one(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """Run a single read in autocommit mode; retry once if the connection had dropped."""
        for attempt in range(2):
            try:
                with self._reader.connect() as connection:
                    return connection.execute(statement, params).first()
            except DBAPIError as error:
                if attempt or not error.connection_invalidated:
                    raise
        return None

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    # The contract's three methods.

    def add_user(self, email: str, hashed_password: str | bytes) -> User:
        """Save a user and return it.

        Raises:
            EmailTakenError: the database already holds this email (in any letter case).
        """
        user = User(email=email, hashed_password=hashed_password)
        try:
            with self._transaction() as session:
                session.add(user)
        except IntegrityError:
            raise EmailTakenError(email) from None
        return user

    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every filter.

        Raises:
            NoResultFound: no user matches.
            InvalidRequestError: a keyword is not a column.
        """
        self._check_columns(kwargs, InvalidRequestError)
        with self._sessions() as session:
            user = session.scalars(select(User).filter_by(**kwargs).limit(1)).first()
        if user is None:
            raise NoResultFound("No user found")
        return user

    def update_user(self, user_id: int, **kwargs: Any) -> None:
        """Set attributes of the user with this id and commit.

        Raises:
            ValueError: a keyword is not a user attribute (nothing is changed).
            NoResultFound: no user has this id.
        """
        self._check_columns(kwargs, UnknownFieldError)
        user = self.find_user_by(id=user_id)
        if not kwargs:
            return
        try:
            with self._transaction() as session:
                session.execute(update(User).where(User.id == user.id).values(**kwargs))
        except IntegrityError:
            raise EmailTakenError(str(kwargs.get("email", ""))) from None

    @staticmethod
    def _check_columns(kwargs: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(kwargs) - set(User.__table__.columns.keys()))
        if unknown:
            raise error(f"not a user attribute: {', '.join(unknown)}")

    # Accounts.

    def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email, compared case-insensitively, or None."""
        with self._sessions() as session:
            statement = select(User).where(func.lower(User.email) == email.lower())
            return session.scalars(statement).first()

    def upgrade_password_hash(self, user_id: int, old: bytes, new: bytes) -> None:
        """Replace a user's hash by a costlier one of the same password, unless it changed
        meanwhile (a concurrent reset must not be undone by a login's upgrade)."""
        with self._transaction() as session:
            session.execute(
                update(User)
                .where(User.id == user_id, User.hashed_password == old)
                .values(hashed_password=new)
            )

    def replace_password(
        self,
        user_id: int,
        hashed_password: bytes,
        *,
        keep_session: int | None = None,
        reset_token: str | None = None,
    ) -> bool:
        """Store a new hash, void any reset token and end every session but `keep_session`.

        With `reset_token` (a digest), only while the user still holds that token, so two
        concurrent requests cannot both spend it. Return whether the password was replaced.
        """
        statement = update(User).where(User.id == user_id)
        if reset_token is not None:
            statement = statement.where(User.reset_token == reset_token)
        with self._transaction() as session:
            result = session.execute(
                statement.values(hashed_password=hashed_password, reset_token=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            session.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))
            self._end_sessions(session, user_id, keep=keep_session)
        return True

    # Device sessions.

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
        row = self._read_one(_LIVE_SESSION, {"digest": id_digest})
        if row is None or row.disabled is not None:
            return None
        user = User(
            id=row.user_id,
            email=row.email,
            hashed_password=row.hashed_password,
            session_id=row.session_id,
            reset_token=row.reset_token,
        )
        return LiveSession(
            id=row.id, user=user, last_used_at=row.last_used_at, expires_at=row.expires_at
        )

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
            self._record_newest_session(session, user_id)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete_sessions(self, user_id: int, *, keep: int | None = None) -> None:
        """End every session of a user, except `keep` when given."""
        with self._transaction() as session:
            self._end_sessions(session, user_id, keep=keep)

    @staticmethod
    def _end_sessions(session: Session, user_id: int, *, keep: int | None) -> None:
        statement = delete(DeviceSession).where(DeviceSession.user_id == user_id)
        if keep is not None:
            statement = statement.where(DeviceSession.id != keep)
        session.execute(statement)
        DB._record_newest_session(session, user_id)

    @staticmethod
    def _record_newest_session(session: Session, user_id: int) -> None:
        """Point users.session_id at the newest remaining session (None when none is left)."""
        newest = session.scalars(
            select(DeviceSession.id_digest)
            .where(DeviceSession.user_id == user_id)
            .order_by(DeviceSession.created_at.desc(), DeviceSession.id.desc())
            .limit(1)
        ).first()
        session.execute(update(User).where(User.id == user_id).values(session_id=newest))

    def delete_expired_sessions(self, now: datetime) -> int:
        """Remove sessions past their absolute lifetime; return how many."""
        with self._transaction() as session:
            result = session.execute(delete(DeviceSession).where(DeviceSession.expires_at <= now))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # Reset tokens.

    def set_reset_token(self, user_id: int, token_digest: str, expires_at: datetime) -> None:
        """Store a user's pending reset token, replacing any older one."""
        with self._transaction() as session:
            session.execute(
                update(User).where(User.id == user_id).values(reset_token=token_digest)
            )
            session.merge(PasswordReset(user_id=user_id, expires_at=expires_at))

    def find_reset(self, token_digest: str) -> tuple[User, datetime | None] | None:
        """Return the user holding this reset token and when it expires, or None."""
        statement = (
            select(User, PasswordReset.expires_at)
            .outerjoin(PasswordReset, PasswordReset.user_id == User.id)
            .where(User.reset_token == token_digest)
        )
        with self._sessions() as session:
            row = session.execute(statement).first()
        return None if row is None else (row[0], row[1])

    # Disabled accounts.

    def is_disabled(self, user_id: int) -> bool:
        """Tell whether an administrator disabled this account."""
        with self._sessions() as session:
            return session.get(DisabledUser, user_id) is not None

    # Administration.

    def list_users(
        self, *, search: str | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[Sequence[tuple[User, datetime | None]], int]:
        """Return a page of users by id, each with when it was disabled, and the match count.

        `search` matches part of the email, ignoring letter case.
        """
        condition = (
            func.lower(User.email).contains(search.lower(), autoescape=True)
            if search
            else User.id.is_not(None)
        )
        page = (
            select(User, DisabledUser.disabled_at)
            .outerjoin(DisabledUser, DisabledUser.user_id == User.id)
            .where(condition)
            .order_by(User.id)
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(User).where(condition))
            rows = [(row[0], row[1]) for row in session.execute(page)]
        return rows, int(total or 0)

    def disabled_since(self, user_id: int) -> datetime | None:
        """Return when an administrator disabled this account, or None if it is enabled."""
        with self._sessions() as session:
            row = session.get(DisabledUser, user_id)
            return None if row is None else row.disabled_at

    def disable_user(self, user_id: int, now: datetime) -> None:
        """Disable an account and end every session of it, in one transaction."""
        with self._transaction() as session:
            if session.get(DisabledUser, user_id) is None:
                session.add(DisabledUser(user_id=user_id, disabled_at=now))
            self._end_sessions(session, user_id, keep=None)

    def enable_user(self, user_id: int) -> bool:
        """Enable a disabled account; tell whether it was disabled."""
        with self._transaction() as session:
            result = session.execute(delete(DisabledUser).where(DisabledUser.user_id == user_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete_user(self, user_id: int) -> None:
        """Delete an account with its sessions and reset token; its audit events stay, unlinked."""
        # Explicit statements rather than ON DELETE: they do not depend on SQLite's
        # foreign_keys pragma being on for the connection.
        with self._transaction() as session:
            session.execute(delete(DeviceSession).where(DeviceSession.user_id == user_id))
            session.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))
            session.execute(delete(DisabledUser).where(DisabledUser.user_id == user_id))
            session.execute(
                update(AuditEvent).where(AuditEvent.user_id == user_id).values(user_id=None)
            )
            session.execute(delete(User).where(User.id == user_id))

    def emails_by_id(self, user_ids: set[int]) -> dict[int, str]:
        """Return the email of each of these users that still exists."""
        if not user_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
            return {row[0]: row[1] for row in rows}

    # Audit trail.

    def add_audit_event(self, row: AuditEvent) -> None:
        """Append one audit event."""
        with self._transaction() as session:
            session.add(row)

    def list_audit_events(
        self, *, user_id: int | None = None, limit: int = 50, offset: int = 0
    ) -> Sequence[AuditEvent]:
        """Return audit events, newest first."""
        statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
        if user_id is not None:
            statement = statement.where(AuditEvent.user_id == user_id)
        with self._sessions() as session:
            return session.scalars(statement).all()

    # Health and metrics.

    def ping(self) -> None:
        """Run the cheapest query there is.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database does not answer.
        """
        with self._sessions() as session:
            session.execute(select(1))

    def count_live_sessions(self, now: datetime, idle_since: datetime) -> int:
        """Count device sessions within their lifetime and used after `idle_since`."""
        statement = (
            select(func.count())
            .select_from(DeviceSession)
            .where(DeviceSession.expires_at > now, DeviceSession.last_used_at > idle_since)
        )
        with self._sessions() as session:
            return int(session.scalar(statement) or 0)
