"""Pending logins at rest: logins waiting for their second factor (login_transactions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from userauth.db.base import Store, rerun_once_if_disconnected
from userauth.models import pending_logins_table

_pending = pending_logins_table.c


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
    def try_pending_login(
        self, digest: str, now: datetime, max_attempts: int
    ) -> PendingLogin | None:
        """Count one more code tried on the live pending login with this digest and return
        it, or None when there is none or it has had `max_attempts` already.

        One conditional UPDATE, before the code is checked: parallel requests on one pending
        login get at most `max_attempts` checks between them.
        """
        with self._transaction() as work:
            row = work.execute(
                update(pending_logins_table)
                .where(
                    _pending.digest == digest,
                    _pending.expires_at > now,
                    _pending.attempts < max_attempts,
                )
                .values(attempts=_pending.attempts + 1)
                .returning(
                    _pending.id,
                    _pending.user_id,
                    _pending.amr,
                    _pending.credential_version,
                    _pending.attempts,
                )
            ).first()
        if row is None:
            return None
        return PendingLogin(
            id=row.id,
            user_id=row.user_id,
            amr=tuple(row.amr.split()),
            credential_version=row.credential_version,
            attempts=row.attempts,
        )

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
