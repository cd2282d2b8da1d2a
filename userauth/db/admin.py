"""Administration, the audit trail and health checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from userauth.db.base import Store, end_sessions
from userauth.models import AuditEvent, DeviceSession, DisabledUser, PasswordReset, User


class AdminStore(Store):
    """Listing, disabling and deleting accounts; audit events; health."""

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
            end_sessions(session, user_id, keep=None)

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
