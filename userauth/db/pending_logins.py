"""Pending logins at rest: logins waiting for their second factor (login_transactions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update

from userauth.db.base import Store, enabled, rerun_once_if_disconnected
from userauth.models import User, pending_logins_table, record, users_table

_pending = pending_logins_table.c
_users = users_table.c

# The second step's two statements, built once (every completion runs them; building a Core
# statement costs more than running it on SQLite).
_CLAIMABLE = (
    select(
        _pending.id.label("pending_id"),
        _pending.amr,
        _users.id,
        _users.email,
        _users.hashed_password,
        _users.session_id,
        _users.credential_version,
        _users.email_verified_at,
    )
    .join(users_table, _users.id == _pending.user_id)
    .where(
        _pending.digest == bindparam("digest"),
        _pending.expires_at > bindparam("now"),
        _pending.attempts < bindparam("max_attempts"),
        _users.credential_version == _pending.credential_version,
        enabled(_users.id),
    )
    .with_for_update(of=users_table)
)
_COUNT_ATTEMPT = (
    update(pending_logins_table)
    .where(
        _pending.id == bindparam("pending_id"),
        _pending.expires_at > bindparam("now"),
        _pending.attempts < bindparam("max_attempts"),
    )
    .values(attempts=_pending.attempts + 1)
    .returning(_pending.attempts)
)


@dataclass(frozen=True)
class PendingLogin:
    """A pending login that may take a code now: whose, what it proved, under which
    credential version, and how many codes it has been tried with (this one included)."""

    id: int
    user_id: int
    amr: tuple[str, ...]
    credential_version: int
    attempts: int


class PendingLoginStore(Store):
    """Begin, try and end pending logins (digests only)."""

    @rerun_once_if_disconnected
    def add_pending_login(
        self,
        user_id: int,
        digest: str,
        amr: tuple[str, ...],
        credential_version: int,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a pending login; the user's expired ones go at the same time."""
        with self._transaction() as work:
            work.execute(
                delete(pending_logins_table).where(
                    _pending.user_id == user_id, _pending.expires_at <= now
                )
            )
            work.execute(
                insert(pending_logins_table).values(
                    user_id=user_id,
                    digest=digest,
                    amr=" ".join(amr),
                    credential_version=credential_version,
                    attempts=0,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    @rerun_once_if_disconnected
    def claim_pending_login(
        self, digest: str, now: datetime, max_attempts: int
    ) -> tuple[PendingLogin, User] | None:
        """Count one more code tried on the live pending login with this digest; return it
        with its account, or None: no such pending login, it has had `max_attempts`, or its
        account was disabled or changed its credentials since.

        Run it inside `atomically` with the code's check and the session's start: on
        PostgreSQL the account's row stays locked to the end (every credential change locks
        it first, base.change_credentials), so parallel requests on one account take turns;
        on SQLite the attempt's UPDATE takes the one write lock. The attempt is counted by
        one conditional UPDATE before the code is checked: parallel requests on one pending
        login get at most `max_attempts` checks between them.
        """
        values = {"digest": digest, "now": now, "max_attempts": max_attempts}
        with self._transaction() as work:
            row = work.execute(_CLAIMABLE, values).first()
            if row is None:
                return None
            attempts = work.execute(
                _COUNT_ATTEMPT, {**values, "pending_id": row.pending_id}
            ).scalar()
        if attempts is None:
            return None
        pending = PendingLogin(
            id=row.pending_id,
            user_id=row.id,
            amr=tuple(row.amr.split()),
            credential_version=row.credential_version,
            attempts=attempts,
        )
        return pending, record(User, row)

    @rerun_once_if_disconnected
    def delete_expired_pending_logins(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` pending logins expired at `now`; count them (the janitor's
        kind "pending_logins"). Completed ones are gone already: completing deletes them."""
        expired = (
            select(_pending.id).where(_pending.expires_at <= now).limit(limit).scalar_subquery()
        )
        with self._transaction() as work:
            result = work.execute(delete(pending_logins_table).where(_pending.id.in_(expired)))
            return int(result.rowcount)
