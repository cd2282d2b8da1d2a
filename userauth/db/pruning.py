"""Pruning at rest: the janitor's lease and its batched deletes of what has run its course.

Each delete removes at most `limit` rows in a transaction of its own, picked by an indexed
column where the table can be large, so no batch holds its locks for long. On PostgreSQL the
batch skips rows another transaction holds (a request touching a session), rather than wait.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from userauth.db.base import Store
from userauth.models import (
    audit_events_table,
    leases_table,
    mail_jobs_table,
    one_time_secrets_table,
    sessions_table,
)

_leases = leases_table.c
_sessions = sessions_table.c


class PruneStore(Store):
    """The janitor's lease and deletes."""

    def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Hold the lease `name` until `until` if it is free at `now` or `holder`'s; tell whether.

        A conditional UPDATE: PostgreSQL re-checks the condition after waiting for a
        concurrent taker's row lock, SQLite runs one writer at a time, so of two takers one
        gets the row and the other sees zero rows updated. The first taker ever inserts the
        row; of two, the primary key lets one in.
        """
        statement = (
            update(leases_table)
            .where(_leases.name == name)
            .where((_leases.held_until <= now) | (_leases.holder == holder))
            .values(holder=holder, held_until=until)
        )
        with self._transaction() as work:
            if work.execute(statement).rowcount:
                return True
            found = work.execute(select(_leases.name).where(_leases.name == name)).first()
        if found is not None:
            return False
        try:
            with self._transaction() as work:
                work.execute(
                    insert(leases_table).values(name=name, holder=holder, held_until=until)
                )
        except IntegrityError:
            return False  # another process inserted it first, and holds it
        return True

    def release_lease(self, name: str, holder: str, now: datetime) -> None:
        """Free the lease `name` at `now` if `holder` still holds it."""
        statement = (
            update(leases_table)
            .where(_leases.name == name, _leases.holder == holder)
            .values(held_until=now)
        )
        with self._transaction() as work:
            work.execute(statement)

    def delete_dead_sessions(self, now: datetime, idle_since: datetime, limit: int) -> int:
        """Delete up to `limit` sessions expired at `now` or unused since `idle_since`; count them.

        Expired ones first, through the index on expires_at (the many); then idle ones, whose
        scan ends at `limit` found (last_used_at has no index: see models.sessions_table).
        """
        removed = self._delete_batch(sessions_table, _sessions.expires_at <= now, limit)
        if removed < limit:
            idle = _sessions.last_used_at <= idle_since
            removed += self._delete_batch(sessions_table, idle, limit - removed)
        return removed

    def delete_expired_secrets(self, now: datetime, limit: int) -> int:
        """Delete up to `limit` one-time secrets expired at `now`; count them.

        Spent ones are gone already: spending a secret deletes it (db.one_time.spend_secret).
        """
        condition = one_time_secrets_table.c.expires_at <= now
        return self._delete_batch(one_time_secrets_table, condition, limit)

    def delete_mail_queued_before(self, moment: datetime, limit: int) -> int:
        """Delete up to `limit` mail jobs queued before `moment`; count them."""
        condition = mail_jobs_table.c.created_at < moment
        return self._delete_batch(mail_jobs_table, condition, limit)

    def delete_audit_events_before(self, moment: datetime, limit: int) -> int:
        """Delete up to `limit` audit events recorded before `moment`; count them."""
        condition = audit_events_table.c.created_at < moment
        return self._delete_batch(audit_events_table, condition, limit)

    def _delete_batch(self, table: Table, condition: ColumnElement[bool], limit: int) -> int:
        # DELETE has no LIMIT on PostgreSQL: the ids come from a bounded subquery, whose rows
        # are locked, skipping those another transaction holds (SQLite renders no FOR UPDATE).
        chosen = select(table.c.id).where(condition).limit(limit).with_for_update(skip_locked=True)
        with self._transaction() as work:
            result = work.execute(delete(table).where(table.c.id.in_(chosen)))
            return int(result.rowcount)
