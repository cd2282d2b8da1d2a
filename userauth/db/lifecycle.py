"""The account's lifecycle at rest: marking an address verified with a one-time secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from userauth.clock import as_utc
from userauth.db.base import Store, rerun_once_if_disconnected
from userauth.db.one_time import spend_secret
from userauth.models import users_table

_users = users_table.c


class _Abandoned(Exception):
    """The secret was spent, or the address changed, meanwhile: the transaction rolls back."""


class LifecycleStore(Store):
    """Verifying an account's address."""

    @rerun_once_if_disconnected
    def mark_email_verified(
        self, user_id: int, email_key: str, now: datetime, *, spend: int
    ) -> bool:
        """Mark the user's address verified at `now` and spend the secret `spend`, in one
        transaction; only if the user's address still has `email_key` (a link mailed to an
        address the account has since left verifies nothing). Return whether it was done."""
        try:
            with self._transaction() as work:
                # The users row first: a concurrent change of address waits for it.
                result = work.execute(
                    update(users_table)
                    .where(_users.id == user_id, _users.email_key == email_key)
                    .values(email_verified_at=now)
                )
                if not result.rowcount or not spend_secret(work, spend):
                    raise _Abandoned
                # Sessions read the verified flag (the gate's header): caches must drop theirs.
                work.announce(user_id)
        except _Abandoned:
            return False
        return True

    @rerun_once_if_disconnected
    def account_created_at(self, user_id: int) -> datetime | None:
        """Return when the account was made (None: made before userauth dated accounts)."""
        with self._connect() as connection:
            created_at: datetime | None = connection.scalar(
                select(_users.created_at).where(_users.id == user_id)
            )
        return None if created_at is None else as_utc(created_at)
