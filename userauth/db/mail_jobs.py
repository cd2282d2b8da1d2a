"""The mail outbox at rest: the `mail_jobs` table's queries, and claiming a job safely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update

from userauth.db.base import Store
from userauth.models import mail_jobs_table

_jobs = mail_jobs_table.c


@dataclass(frozen=True)
class ClaimedMail:
    """A mail job this worker holds until its lease ends; `attempt` counts from 1."""

    id: int
    kind: str
    email: str
    client_address: str
    user_agent: str
    attempt: int
    user_id: int | None = None
    payload: str | None = None
    accept_language: str = ""


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    # A lease that ended belongs to a worker that died mid-send: the job is free again.
    return or_(_jobs.claimed_until.is_(None), _jobs.claimed_until < now)


class MailJobStore(Store):
    """Queueing, claiming, finishing and postponing mail jobs."""

    def enqueue_mail(
        self,
        kind: str,
        email: str,
        client_address: str,
        user_agent: str,
        now: datetime,
        *,
        user_id: int | None = None,
        payload: str | None = None,
        accept_language: str = "",
    ) -> None:
        """Append a mail job, due now, about `user_id` (None: no account), with `payload`;
        `accept_language` is the asker's header, so the mail is written in their language."""
        with self._transaction() as work:
            work.execute(
                insert(mail_jobs_table).values(
                    kind=kind,
                    email=email,
                    client_address=client_address,
                    user_agent=user_agent,
                    user_id=user_id,
                    payload=payload,
                    accept_language=accept_language,
                    attempts=0,
                    due_at=now,
                    created_at=now,
                )
            )

    def claim_mail(self, now: datetime, lease_until: datetime) -> ClaimedMail | None:
        """Claim the oldest due job that no live lease holds, or return None.

        Several workers (threads, processes, servers) may call this at once: each job goes
        to one of them. PostgreSQL skips rows another transaction has locked; SQLite has
        no row locks (FOR UPDATE is not rendered), so the conditional UPDATE is the claim
        and only one writer's matches.
        """
        candidate = (
            select(_jobs.id, _jobs.kind, _jobs.email, _jobs.client_address)
            .add_columns(_jobs.user_agent, _jobs.attempts, _jobs.user_id, _jobs.payload)
            .add_columns(_jobs.accept_language)
            .where(_jobs.due_at <= now, _unclaimed(now))
            .order_by(_jobs.due_at, _jobs.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._transaction() as work:
            row = work.execute(candidate).first()
            if row is None:
                return None
            # Still due, too: on SQLite the SELECT above reads outside the UPDATE's write
            # transaction, so another worker may meanwhile have claimed it, failed at once and
            # postponed it (unclaimed again, due later); it must not be sent before then.
            claim = (
                update(mail_jobs_table)
                .where(_jobs.id == row.id, _jobs.due_at <= now, _unclaimed(now))
                .values(claimed_until=lease_until, attempts=_jobs.attempts + 1)
            )
            if not work.execute(claim).rowcount:
                return None
        return ClaimedMail(
            id=row.id,
            kind=row.kind,
            email=row.email,
            client_address=row.client_address,
            user_agent=row.user_agent,
            attempt=row.attempts + 1,
            user_id=row.user_id,
            payload=row.payload,
            accept_language=row.accept_language,
        )

    def finish_mail(self, job_id: int) -> None:
        """Delete a job: sent, or given up."""
        with self._transaction() as work:
            work.execute(delete(mail_jobs_table).where(_jobs.id == job_id))

    def postpone_mail(self, job_id: int, due_at: datetime) -> None:
        """Release a job after a failed attempt, due again at `due_at`."""
        with self._transaction() as work:
            work.execute(
                update(mail_jobs_table)
                .where(_jobs.id == job_id)
                .values(due_at=due_at, claimed_until=None)
            )

    def count_mail(self, *, due_by: datetime | None = None) -> int:
        """Count the jobs waiting (only those due by `due_by` when given)."""
        statement = select(func.count()).select_from(mail_jobs_table)
        if due_by is not None:
            statement = statement.where(_jobs.due_at <= due_by)
        with self._connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def oldest_mail_created_at(self) -> datetime | None:
        """Return when the oldest waiting job was queued (aware UTC), or None if none waits."""
        statement = select(func.min(_jobs.created_at))
        with self._connect() as connection:
            oldest: datetime | None = connection.execute(statement).scalar_one()
        # SQLite keeps no time zone: what userauth stores is UTC.
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return oldest
