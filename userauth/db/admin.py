"""Administration at rest: listing, disabling and deleting accounts; the audit trail; ping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from userauth.db.base import (
    Store,
    end_sessions,
    rerun_once_if_disconnected,
    retry_if_disconnected,
    void_secrets,
)
from userauth.db.broadcast import announce
from userauth.models import AuditEvent, DeviceSession, DisabledUser, User


class AdminStore(Store):
    """Listing, disabling and deleting accounts; audit events; the health ping."""

    # Administration.

    @rerun_once_if_disconnected
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

    @rerun_once_if_disconnected
    def disabled_since(self, user_id: int) -> datetime | None:
        """Return when an administrator disabled this account, or None if it is enabled."""
        with self._sessions() as session:
            row = session.get(DisabledUser, user_id)
            return None if row is None else row.disabled_at

    @rerun_once_if_disconnected
    def disable_user(self, user_id: int, now: datetime) -> None:
        """Disable an account, end every session and void its one-time secrets, at once."""
        with self._transaction() as session:
            if session.get(DisabledUser, user_id) is None:
                session.add(DisabledUser(user_id=user_id, disabled_at=now))
            void_secrets(session, user_id)
            end_sessions(session, user_id, keep=None)

    @rerun_once_if_disconnected
    def enable_user(self, user_id: int) -> bool:
        """Enable a disabled account; tell whether it was disabled."""
        with self._transaction() as session:
            result = session.execute(delete(DisabledUser).where(DisabledUser.user_id == user_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    @rerun_once_if_disconnected
    def delete_user(self, user_id: int) -> None:
        """Delete an account with its sessions and reset token; its audit events stay, unlinked."""
        # Explicit statements rather than ON DELETE: they do not depend on SQLite's
        # foreign_keys pragma being on for the connection.
        with self._transaction() as session:
            session.execute(delete(DeviceSession).where(DeviceSession.user_id == user_id))
            void_secrets(session, user_id)
            session.execute(delete(DisabledUser).where(DisabledUser.user_id == user_id))
            session.execute(
                update(AuditEvent).where(AuditEvent.user_id == user_id).values(user_id=None)
            )
            session.execute(delete(User).where(User.id == user_id))
            announce(session, user_id)

    @rerun_once_if_disconnected
    def emails_by_id(self, user_ids: set[int]) -> dict[int, str]:
        """Return the email of each of these users that still exists."""
        if not user_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
            return {row[0]: row[1] for row in rows}

    # Audit trail.

    @rerun_once_if_disconnected
    def add_audit_event(self, row: AuditEvent) -> None:
        """Append one audit event, with its account's email when it has one."""
        if row.user_id is not None and row.email is None:
            # In the same INSERT: the email stays on the event after the account is deleted.
            row.email = select(User.email).where(User.id == row.user_id).scalar_subquery()
        with self._transaction() as session:
            session.add(row)

    @rerun_once_if_disconnected
    def list_audit_events(
        self,
        *,
        user_id: int | None = None,
        email: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Sequence[AuditEvent]:
        """Return audit events, newest first: of one account id, or one stored email."""
        statement = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
        if user_id is not None:
            statement = statement.where(AuditEvent.user_id == user_id)
        elif email is not None:
            statement = statement.where(func.lower(AuditEvent.email) == email.lower())
        with self._sessions() as session:
            return session.scalars(statement).all()

    # Health.

    def ping(self) -> None:
        """Run the cheapest query there is.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database does not answer.
        """

        def read() -> None:
            with self._sessions() as session:
                session.execute(select(1))

        retry_if_disconnected(read)

    def probe_write(self) -> None:
        """Commit a write that changes nothing: it fails as a request's write would.

        A DELETE of no row takes SQLite's write lock and is refused by a read-only server or
        file; a commit that must reach the disk then finds a full one: SQLite rewrites its
        header's user_version with the value it holds, PostgreSQL commits a transaction id.
        Nothing is left behind but that header page and commit record.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot take a write now.
        """

        def write() -> None:
            with self._engine.begin() as connection:
                connection.execute(delete(DisabledUser).where(DisabledUser.user_id == -1))
                dialect = connection.dialect.name
                if dialect == "sqlite":
                    version = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())
                    connection.exec_driver_sql(f"PRAGMA user_version = {version}")
                elif dialect == "postgresql":
                    connection.execute(select(func.pg_current_xact_id()))

        retry_if_disconnected(write)
