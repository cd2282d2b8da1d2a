"""Administration at rest: listing, disabling and deleting accounts; the audit trail; ping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update

from userauth.db.base import (
    Store,
    UnitOfWork,
    end_sessions,
    lock_account,
    rerun_once_if_disconnected,
    retry_if_disconnected,
    void_secrets,
)
from userauth.db.factors import delete_factor_rows
from userauth.db.oidc_tokens import logins_of_deleted
from userauth.emails import lookup_key
from userauth.models import (
    AuditEvent,
    User,
    audit_events_table,
    disabled_users_table,
    mail_jobs_table,
    oidc_codes_table,
    oidc_consents_table,
    oidc_subjects_table,
    oidc_tokens_table,
    passkey_handles_table,
    passkeys_table,
    record,
    sessions_table,
    users_table,
    webauthn_challenges_table,
)

_users = users_table.c
_disabled = disabled_users_table.c
_events = audit_events_table.c
_sessions = sessions_table.c

_INSERT_AUDIT = insert(audit_events_table)
_INSERT_AUDIT_LOOKING_UP = insert(audit_events_table).values(
    email=select(_users.email).where(_users.id == bindparam("owner")).scalar_subquery(),
    email_key=select(_users.email_key).where(_users.id == bindparam("owner")).scalar_subquery(),
)


def delete_user_rows(work: UnitOfWork, user_id: int) -> None:
    """Delete a user and every row that belongs to them, inside the caller's transaction:
    sessions, pending secrets, factors (and what goes with them), passkeys, their handle and
    ceremonies, the OpenID Connect provider's codes, tokens, consents and subject, disabled
    state, queued mail, then the users row. The one place a new table of
    a user's rows joins.

    Explicit statements rather than ON DELETE: they do not depend on SQLite's foreign_keys
    pragma being on for the connection.
    """
    work.execute(delete(sessions_table).where(_sessions.user_id == user_id))
    void_secrets(work, user_id)
    delete_factor_rows(work, user_id)
    for table in (passkeys_table, passkey_handles_table, webauthn_challenges_table):
        work.execute(delete(table).where(table.c.user_id == user_id))
    # What the OpenID Connect provider holds of the user: codes, tokens, consents, subject;
    # the clients it logged into are told once this commits (back-channel logout).
    logins_of_deleted(work, user_id)
    for table in (oidc_codes_table, oidc_tokens_table, oidc_consents_table, oidc_subjects_table):
        work.execute(delete(table).where(table.c.user_id == user_id))
    work.execute(delete(disabled_users_table).where(_disabled.user_id == user_id))
    work.execute(delete(mail_jobs_table).where(mail_jobs_table.c.user_id == user_id))
    work.execute(delete(users_table).where(_users.id == user_id))


class AdminStore(Store):
    """Listing, disabling and deleting accounts; audit events; the health ping."""

    # Administration.

    @rerun_once_if_disconnected
    def list_users(
        self, *, search: str | None = None, limit: int = 20, offset: int = 0
    ) -> tuple[Sequence[tuple[User, datetime | None]], int]:
        """Return a page of users by id, each with when it was disabled, and the match count.

        `search` matches part of the email's key (`emails.lookup_key`), so it ignores
        letter case as every look-up does.
        """
        condition = (
            _users.email_key.contains(lookup_key(search), autoescape=True)
            if search
            else _users.id.is_not(None)
        )
        page = (
            select(users_table, _disabled.disabled_at)
            .outerjoin(disabled_users_table, _disabled.user_id == _users.id)
            .where(condition)
            .order_by(_users.id)
            .limit(limit)
            .offset(offset)
        )
        with self._connect() as connection:
            total = connection.scalar(
                select(func.count()).select_from(users_table).where(condition)
            )
            rows = [(record(User, row), row.disabled_at) for row in connection.execute(page)]
        return rows, int(total or 0)

    @rerun_once_if_disconnected
    def disabled_since(self, user_id: int) -> datetime | None:
        """Return when an administrator disabled this account, or None if it is enabled."""
        statement = select(_disabled.disabled_at).where(_disabled.user_id == user_id)
        with self._connect() as connection:
            disabled_at: datetime | None = connection.scalar(statement)
            return disabled_at

    @rerun_once_if_disconnected
    def disable_user(self, user_id: int, now: datetime) -> None:
        """Disable an account, end every session and void its one-time secrets, at once."""
        with self._transaction() as work:
            disabled = work.execute(select(_disabled.user_id).where(_disabled.user_id == user_id))
            if disabled.first() is None:
                work.execute(insert(disabled_users_table).values(user_id=user_id, disabled_at=now))
            void_secrets(work, user_id)
            end_sessions(work, user_id, keep=None)

    @rerun_once_if_disconnected
    def enable_user(self, user_id: int) -> bool:
        """Enable a disabled account; tell whether it was disabled."""
        with self._transaction() as work:
            result = work.execute(delete(disabled_users_table).where(_disabled.user_id == user_id))
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def delete_user(self, user_id: int, *, audit_email: str | None = None) -> None:
        """Delete an account and every row of it (delete_user_rows); its audit events stay,
        unlinked, naming the account's email, or `audit_email` in its place (a digest, when
        the owner deletes their account: GDPR article 17)."""
        with self._transaction() as work:
            # The users row first, as every writer of an account's rows (main's lock_account).
            lock_account(work, user_id)
            values: dict[str, object] = {"user_id": None}
            if audit_email is not None:
                values.update(email=audit_email, email_key=audit_email)
            work.execute(
                update(audit_events_table).where(_events.user_id == user_id).values(**values)
            )
            delete_user_rows(work, user_id)
            work.announce(user_id)

    @rerun_once_if_disconnected
    def emails_by_id(self, user_ids: set[int]) -> dict[int, str]:
        """Return the email of each of these users that still exists."""
        if not user_ids:
            return {}
        with self._connect() as connection:
            rows = connection.execute(
                select(_users.id, _users.email).where(_users.id.in_(user_ids))
            )
            return {row[0]: row[1] for row in rows}

    # Audit trail.

    @rerun_once_if_disconnected
    def add_audit_event(
        self,
        event: str,
        user_id: int | None,
        *,
        email: str | None,
        client_address: str,
        user_agent: str,
        created_at: datetime,
    ) -> None:
        """Append one audit event, with its account's email (and its key) when it has one."""
        values = {
            "user_id": user_id,
            "event": event,
            "email": email,
            "email_key": None if email is None else lookup_key(email),
            "client_address": client_address,
            "user_agent": user_agent,
            "created_at": created_at,
        }
        # Without an email, the account's is read in the same INSERT: the email stays on
        # the event after the account is deleted.
        statement = _INSERT_AUDIT
        if user_id is not None and email is None:
            del values["email"], values["email_key"]
            statement, values = _INSERT_AUDIT_LOOKING_UP, {**values, "owner": user_id}
        with self._transaction() as work:
            work.execute(statement, values)

    @rerun_once_if_disconnected
    def list_audit_events(
        self,
        *,
        user_id: int | None = None,
        email: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Sequence[AuditEvent]:
        """Return audit events, newest first: of one account id, or of the stored emails
        that have this email's key (`emails.lookup_key`)."""
        statement = (
            select(audit_events_table).order_by(_events.id.desc()).limit(limit).offset(offset)
        )
        if user_id is not None:
            statement = statement.where(_events.user_id == user_id)
        elif email is not None:
            statement = statement.where(_events.email_key == lookup_key(email))
        with self._connect() as connection:
            return [record(AuditEvent, row) for row in connection.execute(statement)]

    # Health.

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
                connection.execute(delete(disabled_users_table).where(_disabled.user_id == -1))
                dialect = connection.dialect.name
                if dialect == "sqlite":
                    version = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())
                    connection.exec_driver_sql(f"PRAGMA user_version = {version}")
                elif dialect == "postgresql":
                    connection.execute(select(func.pg_current_xact_id()))

        retry_if_disconnected(write)
