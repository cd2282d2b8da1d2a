"""Second factors at rest: factors, recovery codes, and the wrong-code budget per account."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Executable, bindparam, case, delete, func, insert, select, update

from userauth.clock import as_utc
from userauth.db.base import (
    Store,
    UnitOfWork,
    change_credentials,
    dialect_insert,
    rerun_once_if_disconnected,
)
from userauth.models import (
    code_failures_table,
    factors_table,
    pending_logins_table,
    recovery_codes_table,
    sessions_table,
)

_factors = factors_table.c
_codes = recovery_codes_table.c
_failures = code_failures_table.c
_pending = pending_logins_table.c
_sessions = sessions_table.c

# What every completion of a login's second step runs, built once.
_FACTORS_OF = (
    select(factors_table).where(_factors.user_id == bindparam("user_id")).order_by(_factors.id)
)
_USE_STEP = (
    update(factors_table)
    .where(
        _factors.id == bindparam("factor_id"),
        _factors.last_step.is_(None) | (_factors.last_step < bindparam("step")),
    )
    .values(last_step=bindparam("step"), last_used_at=bindparam("now"))
)
_CLEAR_CODE_ATTEMPTS = delete(code_failures_table).where(_failures.user_id == bindparam("user_id"))


@dataclass(frozen=True)
class StoredFactor:
    """A factor row: its sealed secret stays out of `repr`."""

    id: int
    user_id: int
    type: str
    created_at: datetime
    confirmed_at: datetime | None
    last_used_at: datetime | None
    last_step: int | None
    secret: str | None = field(default=None, repr=False)


class _NothingToConfirmError(Exception):
    """The factor was confirmed or removed meanwhile: roll back."""


class FactorStore(Store):
    """Factors (TOTP), recovery codes and wrong-code budgets."""

    @rerun_once_if_disconnected
    def factors_of(self, user_id: int) -> Sequence[StoredFactor]:
        """Return the user's factors, confirmed or not, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(_FACTORS_OF, {"user_id": user_id})
            return [_factor(row) for row in rows]

    @rerun_once_if_disconnected
    def begin_factor(self, user_id: int, kind: str, sealed: str, now: datetime) -> bool:
        """Store an unconfirmed factor, replacing an unconfirmed one of this type; tell
        whether it was stored (False: a confirmed one exists)."""
        with self._transaction() as work:
            work.execute(
                delete(factors_table).where(
                    _factors.user_id == user_id,
                    _factors.type == kind,
                    _factors.confirmed_at.is_(None),
                )
            )
            exists = work.execute(
                select(_factors.id).where(_factors.user_id == user_id, _factors.type == kind)
            ).first()
            if exists is not None:
                return False
            work.execute(
                insert(factors_table).values(
                    user_id=user_id, type=kind, secret=sealed, created_at=now
                )
            )
        return True

    @rerun_once_if_disconnected
    def use_step(self, factor_id: int, step: int, now: datetime) -> bool:
        """Record that the factor accepted the code of time step `step`; tell whether it is
        the first use of that step or a later one (RFC 6238 5.2: a code is accepted once).

        One conditional UPDATE: of two workers accepting the same code, one wins.
        """
        with self._transaction() as work:
            values = {"factor_id": factor_id, "step": step, "now": now}
            return bool(work.execute(_USE_STEP, values).rowcount)

    @rerun_once_if_disconnected
    def confirm_factor(
        self,
        user_id: int,
        factor_id: int,
        step: int,
        now: datetime,
        code_digests: Sequence[str],
        *,
        keep_session: int,
    ) -> bool:
        """Confirm the user's factor at its first accepted step, replace the user's recovery
        codes, and apply the credential change rule (base.change_credentials); tell whether."""
        try:
            with self._transaction() as work:
                # The rule first: it locks the account's row before its factors and codes,
                # in the order a login's second step takes them (no deadlock).
                change_credentials(work, user_id, keep_session=keep_session)
                confirmed = work.execute(
                    update(factors_table)
                    .where(
                        _factors.id == factor_id,
                        _factors.user_id == user_id,
                        _factors.confirmed_at.is_(None),
                    )
                    .values(confirmed_at=now, last_step=step, last_used_at=now)
                )
                if not confirmed.rowcount:
                    raise _NothingToConfirmError  # rolls the credential change back
                _replace_codes(work, user_id, code_digests, now)
        except _NothingToConfirmError:
            return False
        return True

    @rerun_once_if_disconnected
    def remove_factors(self, user_id: int, *, keep_session: int | None) -> bool:
        """Delete every factor and recovery code of the user, as a credential change; tell
        whether there was a confirmed factor.

        The session kept (the one the change was made in) drops to AAL1: its factors stay
        as the history of how it was made, but AAL2 is proof of two distinct authenticators
        bound to the account (NIST SP 800-63B 4.2.1), and the account now has one
        (docs/two-factor.md, "Turning the factor off").
        """
        with self._transaction() as work:
            change_credentials(work, user_id, keep_session=keep_session)
            removed = work.execute(
                delete(factors_table).where(
                    _factors.user_id == user_id, _factors.confirmed_at.is_not(None)
                )
            )
            delete_factor_rows(work, user_id)
            work.execute(
                update(sessions_table)
                .where(_sessions.user_id == user_id, _sessions.aal > 1)
                .values(aal=1)
            )
            return bool(removed.rowcount)

    @rerun_once_if_disconnected
    def replace_recovery_codes(
        self, user_id: int, digests: Sequence[str], now: datetime, *, keep_session: int
    ) -> None:
        """Replace the user's recovery codes (the old list dies), as a credential change."""
        with self._transaction() as work:
            change_credentials(work, user_id, keep_session=keep_session)
            _replace_codes(work, user_id, digests, now)

    @rerun_once_if_disconnected
    def spend_recovery_code(self, user_id: int, digest: str) -> bool:
        """Delete the user's recovery code with this digest; tell whether it was there
        (of two requests spending one code, one wins)."""
        with self._transaction() as work:
            result = work.execute(
                delete(recovery_codes_table).where(
                    _codes.user_id == user_id, _codes.digest == digest
                )
            )
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def count_recovery_codes(self, user_id: int) -> int:
        """Count the user's unused recovery codes."""
        statement = select(func.count()).select_from(recovery_codes_table)
        with self._connect() as connection:
            return int(connection.scalar(statement.where(_codes.user_id == user_id)) or 0)

    @rerun_once_if_disconnected
    def sealed_secrets(self) -> Sequence[tuple[int, str]]:
        """Return (factor id, sealed secret) of every factor holding one (re-encryption)."""
        statement = select(_factors.id, _factors.secret).where(_factors.secret.is_not(None))
        with self._connect() as connection:
            return [(row.id, row.secret) for row in connection.execute(statement)]

    @rerun_once_if_disconnected
    def reseal_secret(self, factor_id: int, old: str, new: str) -> bool:
        """Replace a sealed secret by the same secret sealed again, unless it changed."""
        with self._transaction() as work:
            result = work.execute(
                update(factors_table)
                .where(_factors.id == factor_id, _factors.secret == old)
                .values(secret=new)
            )
            return bool(result.rowcount)

    # The wrong-code budget.

    @rerun_once_if_disconnected
    def reserve_code_attempt(
        self, user_id: int, now: datetime, window_start: datetime, limit: int
    ) -> int | None:
        """Take one attempt from the user's budget of `limit` per window (a window begun
        after `window_start` is current); return how many the window has taken with this
        one (1 to `limit`), or None when none was left.

        Counted before the code is checked, in one upsert (`INSERT … ON CONFLICT DO UPDATE
        … WHERE`, atomic on PostgreSQL and SQLite alike): parallel requests cannot all pass
        before the first failure counts, none is counted twice, and two first attempts never
        collide on the user's row (OWASP ASVS 2.2.1: anti-automation on every factor).
        """
        values = {"user_id": user_id, "now": now, "window_start": window_start, "limit": limit}
        with self._transaction() as work:
            taken: int | None = work.execute(_reserve(self._engine.dialect.name), values).scalar()
            return taken

    @rerun_once_if_disconnected
    def clear_code_attempts(self, user_id: int) -> None:
        """Forget the user's counted attempts (a right code was given)."""
        with self._transaction() as work:
            work.execute(_CLEAR_CODE_ATTEMPTS, {"user_id": user_id})


@functools.cache
def _reserve(dialect: str) -> Executable:
    """The upsert of reserve_code_attempt, in the dialect's words, built once."""
    stale = _failures.window_started_at <= bindparam("window_start")
    now = bindparam("now", type_=code_failures_table.c.window_started_at.type)
    first = dialect_insert(dialect)(code_failures_table).values(
        user_id=bindparam("user_id"), count=1, window_started_at=now
    )
    return first.on_conflict_do_update(
        index_elements=[_failures.user_id],
        set_={
            "count": case((stale, 1), else_=_failures.count + 1),
            "window_started_at": case((stale, now), else_=_failures.window_started_at),
        },
        where=stale | (_failures.count < bindparam("limit")),
    ).returning(_failures.count)


def delete_factor_rows(work: UnitOfWork, user_id: int) -> None:
    """Delete every factor, recovery code, pending login and wrong-code count of a user.

    Lock the account's row first (base.change_credentials, or lock_account): a login's
    second step holds it while it spends a code.
    """
    for table in (pending_logins_table, code_failures_table, factors_table, recovery_codes_table):
        work.execute(delete(table).where(table.c.user_id == user_id))


def _replace_codes(work: UnitOfWork, user_id: int, digests: Sequence[str], now: datetime) -> None:
    work.execute(delete(recovery_codes_table).where(_codes.user_id == user_id))
    work.execute(
        insert(recovery_codes_table),
        [{"user_id": user_id, "digest": digest, "created_at": now} for digest in digests],
    )


def _factor(row: object) -> StoredFactor:
    def moment(value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    return StoredFactor(
        id=row.id,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        type=row.type,  # type: ignore[attr-defined]
        created_at=as_utc(row.created_at),  # type: ignore[attr-defined]
        confirmed_at=moment(row.confirmed_at),  # type: ignore[attr-defined]
        last_used_at=moment(row.last_used_at),  # type: ignore[attr-defined]
        last_step=row.last_step,  # type: ignore[attr-defined]
        secret=row.secret,  # type: ignore[attr-defined]
    )
