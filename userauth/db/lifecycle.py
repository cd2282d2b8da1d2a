"""The account's lifecycle at rest: verifying an address and changing it with one-time
secrets, each in one transaction with the secret's spending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from userauth.clock import as_utc
from userauth.db.base import Store, rerun_once_if_disconnected
from userauth.db.one_time import spend_secret
from userauth.emails import lookup_key
from userauth.errors import EmailTakenError
from userauth.models import User, one_time_secrets_table, record, users_table

_users = users_table.c
_secrets = one_time_secrets_table.c


class _Abandoned(Exception):
    """The secret was spent, or the address changed, meanwhile: the transaction rolls back."""


class LifecycleStore(Store):
    """Verifying and changing an account's address; invited sign-ups."""

    @rerun_once_if_disconnected
    def add_invited_user(
        self, email: str, hashed_password: bytes, verified_at: datetime, *, spend: int
    ) -> User | None:
        """Save a user whose address is verified, spending the invitation `spend` in the same
        transaction; return it, or None if the invitation was spent meanwhile.

        Raises:
            EmailTakenError: the database already holds an email of the same key.
        """
        new_user = insert(users_table).values(
            email=email,
            email_key=lookup_key(email),
            hashed_password=hashed_password,
            email_verified_at=verified_at,
        )
        try:
            with self._transaction() as work:
                row = work.execute(new_user.returning(*users_table.columns)).one()
                if not spend_secret(work, spend):
                    raise _Abandoned
        except IntegrityError:
            raise EmailTakenError(email) from None
        except _Abandoned:
            return None
        return record(User, row)

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

    @rerun_once_if_disconnected
    def change_email(
        self,
        user_id: int,
        old_key: str,
        new_email: str,
        now: datetime,
        *,
        spend: int,
        void_purposes: tuple[str, ...],
        void_payloads: tuple[str, ...],
    ) -> bool:
        """Give the user `new_email` (verified at `now`), spending the secret `spend`, in one
        transaction; only if the user's address still has `old_key` and no other account
        has the new one (the unique key decides, so emails stay unique under any
        interleaving of changes and sign-ups). The user's secrets of `void_purposes` die
        with the old address, and so do the account-less secrets carrying one of
        `void_payloads` (invitations of the old address). Sessions stay.
        Return whether the address changed.
        """
        try:
            with self._transaction() as work:
                result = work.execute(
                    update(users_table)
                    .where(_users.id == user_id, _users.email_key == old_key)
                    .values(
                        email=new_email, email_key=lookup_key(new_email), email_verified_at=now
                    )
                )
                if not result.rowcount or not spend_secret(work, spend):
                    raise _Abandoned
                work.execute(
                    delete(one_time_secrets_table).where(
                        _secrets.purpose.in_(void_purposes),
                        or_(
                            _secrets.user_id == user_id,
                            _secrets.user_id.is_(None) & _secrets.payload.in_(void_payloads),
                        ),
                    )
                )
                # Sessions read the email: every cache drops its copy.
                work.announce(user_id)
        except (_Abandoned, IntegrityError):
            return False
        return True
