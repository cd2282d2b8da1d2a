"""One-time secrets at rest: the `one_time_secrets` table's queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, or_, select

from userauth.db.base import Store, UnitOfWork, rerun_once_if_disconnected
from userauth.models import one_time_secrets_table, users_table

_secrets = one_time_secrets_table.c
_users = users_table.c


@dataclass(frozen=True)
class PendingSecret:
    """A live one-time secret: which row it is, whose (None: no account yet), its payload."""

    id: int
    user_id: int | None
    payload: str | None = field(default=None, repr=False)


class OneTimeSecretStore(Store):
    """Issuing, finding and spending one-time secrets (digests only)."""

    @rerun_once_if_disconnected
    def add_secret(
        self,
        user_id: int | None,
        purpose: str,
        digest: str,
        expires_at: datetime,
        *,
        payload: str | None = None,
        replace: bool = False,
    ) -> None:
        """Store a secret, stamped with its user's credential version; with `replace`, the
        user's older secrets of this purpose go (several stay live otherwise)."""
        with self._transaction() as work:
            if replace and user_id is not None:
                work.execute(
                    delete(one_time_secrets_table).where(
                        _secrets.user_id == user_id, _secrets.purpose == purpose
                    )
                )
            version = None
            if user_id is not None:
                version = work.execute(
                    select(_users.credential_version).where(_users.id == user_id)
                ).scalar()
            work.execute(
                insert(one_time_secrets_table).values(
                    user_id=user_id,
                    purpose=purpose,
                    digest=digest,
                    expires_at=expires_at,
                    payload=payload,
                    credential_version=version,
                )
            )

    def replace_secret(
        self, user_id: int, purpose: str, digest: str, expires_at: datetime
    ) -> None:
        """Store a user's secret for this purpose, replacing any older one of that purpose."""
        self.add_secret(user_id, purpose, digest, expires_at, replace=True)

    @rerun_once_if_disconnected
    def find_secret(self, digest: str, purpose: str, now: datetime) -> PendingSecret | None:
        """Return the unexpired secret with this digest and purpose, or None; a secret issued
        under an older credential version of its user is not found."""
        statement = (
            select(_secrets.id, _secrets.user_id, _secrets.payload)
            .outerjoin(users_table, _users.id == _secrets.user_id)
            .where(
                _secrets.digest == digest,
                _secrets.purpose == purpose,
                _secrets.expires_at > now,
                or_(
                    _secrets.user_id.is_(None),
                    _secrets.credential_version.is_(None),
                    _secrets.credential_version == _users.credential_version,
                ),
            )
        )
        with self._connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return None
        return PendingSecret(id=row.id, user_id=row.user_id, payload=row.payload)

    @rerun_once_if_disconnected
    def has_secret(
        self, user_id: int, purpose: str, *, expiring_after: datetime | None = None
    ) -> bool:
        """Tell whether a user holds a secret for this purpose (expired or not; with
        `expiring_after`, only one that expires later than that)."""
        statement = select(_secrets.id).where(
            _secrets.user_id == user_id, _secrets.purpose == purpose
        )
        if expiring_after is not None:
            statement = statement.where(_secrets.expires_at > expiring_after)
        with self._connect() as connection:
            return connection.execute(statement.limit(1)).first() is not None


def spend_secret(work: UnitOfWork, secret_id: int) -> bool:
    """Delete a secret inside the caller's transaction; tell whether it was still there.

    Of two transactions spending the same secret, the second finds no row (PostgreSQL
    makes it wait for the first, SQLite runs one writer at a time): a secret is used once.
    """
    result = work.execute(delete(one_time_secrets_table).where(_secrets.id == secret_id))
    return bool(result.rowcount)
