"""Passkeys at rest: WebAuthn credentials, user handles, and the challenges of ceremonies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from userauth.clock import as_utc
from userauth.db.base import (
    Store,
    UnitOfWork,
    change_credentials,
    dialect_insert,
    rerun_once_if_disconnected,
)
from userauth.emails import lookup_key
from userauth.errors import EmailTakenError
from userauth.models import (
    NO_PASSWORD,
    User,
    passkey_handles_table,
    passkeys_table,
    pending_logins_table,
    record,
    users_table,
    webauthn_challenges_table,
)

_keys = passkeys_table.c
_handles = passkey_handles_table.c
_challenges = webauthn_challenges_table.c
_users = users_table.c
_pending = pending_logins_table.c


@dataclass(frozen=True)
class StoredPasskey:
    """A passkey row: ids and the public key as base64url, the counter, its transports."""

    id: int
    user_id: int
    credential_id: str
    name: str
    sign_count: int
    transports: tuple[str, ...]
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None
    public_key: str = field(repr=False)


@dataclass(frozen=True)
class NewPasskey:
    """A verified registration to store (base64url ids and key)."""

    credential_id: str
    public_key: str = field(repr=False)
    sign_count: int = 0
    transports: tuple[str, ...] = ()
    backed_up: bool = False
    name: str = ""


@dataclass(frozen=True)
class TakenChallenge:
    """A ceremony's challenge, spent: for whom it was made, and what it carried."""

    user_id: int | None
    payload: str | None


class PasskeyStore(Store):
    """Passkeys, their owners' user handles, and single-use ceremony challenges."""

    @rerun_once_if_disconnected
    def passkeys_of(self, user_id: int) -> Sequence[StoredPasskey]:
        """Return the user's passkeys, oldest first."""
        statement = select(passkeys_table).where(_keys.user_id == user_id).order_by(_keys.id)
        with self._connect() as connection:
            return [_passkey(row) for row in connection.execute(statement)]

    @rerun_once_if_disconnected
    def count_passkeys(self, user_id: int) -> int:
        """Return how many passkeys the user has."""
        statement = select(func.count()).where(_keys.user_id == user_id)
        with self._connect() as connection:
            return int(connection.execute(statement).scalar_one())

    @rerun_once_if_disconnected
    def passkey_by_credential(self, credential_id: str) -> tuple[StoredPasskey, str] | None:
        """Return the passkey with this credential id and its owner's user handle, or None."""
        statement = select(passkeys_table, _handles.handle).join(
            passkey_handles_table, _handles.user_id == _keys.user_id
        )
        with self._connect() as connection:
            row = connection.execute(statement.where(_keys.credential_id == credential_id)).first()
        return None if row is None else (_passkey(row), str(row.handle))

    @rerun_once_if_disconnected
    def passkey_handle(self, user_id: int) -> str | None:
        """Return the user's WebAuthn user handle (base64url), or None before a first passkey."""
        statement = select(_handles.handle).where(_handles.user_id == user_id)
        with self._connect() as connection:
            handle = connection.execute(statement).scalar()
        return None if handle is None else str(handle)

    @rerun_once_if_disconnected
    def ensure_passkey_handle(self, user_id: int, candidate: str) -> str:
        """Return the user's WebAuthn user handle (base64url), storing `candidate` as it if
        the user has none yet. One `INSERT … ON CONFLICT DO NOTHING` then a read: of two
        parallel first ceremonies, both get the one handle stored (WebAuthn Level 3 6.1:
        an account has one user handle, which every passkey of it carries)."""
        with self._transaction() as work:
            return self._ensure_handle(work, user_id, candidate)

    def _ensure_handle(self, work: UnitOfWork, user_id: int, candidate: str) -> str:
        work.execute(
            dialect_insert(self._engine.dialect.name)(passkey_handles_table)
            .values(user_id=user_id, handle=candidate)
            .on_conflict_do_nothing(index_elements=[_handles.user_id])
        )
        stored = work.execute(select(_handles.handle).where(_handles.user_id == user_id))
        return str(stored.scalar_one())

    @rerun_once_if_disconnected
    def add_passkey(
        self, user_id: int, handle: str, passkey: NewPasskey, now: datetime, *, keep_session: int
    ) -> bool:
        """Store a passkey made for the user handle `handle` (stored as the user's, if it has
        none yet), as a credential change (base.change_credentials); tell whether it was
        stored. False, nothing stored: its credential id is registered already (to any
        account), or `handle` is not the user's handle (its authenticator would name
        another account: the passkey could never log in)."""
        try:
            with self._transaction() as work:
                if self._ensure_handle(work, user_id, handle) != handle:
                    return False
                work.execute(insert(passkeys_table).values(**_row(user_id, passkey, now)))
                change_credentials(work, user_id, keep_session=keep_session)
        except IntegrityError:
            return False
        return True

    @rerun_once_if_disconnected
    def add_user_with_passkey(
        self, email: str, handle: str, passkey: NewPasskey, now: datetime
    ) -> User | None:
        """Create an account whose only credential is a passkey, in one transaction; return
        it, or None when the credential is registered already (nothing is stored).

        Raises:
            EmailTakenError: the email has an account (nothing is stored).
        """
        try:
            with self._transaction() as work:
                row = work.execute(
                    insert(users_table)
                    .values(email=email, email_key=lookup_key(email), hashed_password=NO_PASSWORD)
                    .returning(*users_table.columns)
                ).one()
                user = record(User, row)
                work.execute(
                    insert(passkey_handles_table).values(
                        user_id=user.id, handle=handle, unproven_signup=True
                    )
                )
                work.execute(insert(passkeys_table).values(**_row(user.id, passkey, now)))
        except IntegrityError:
            with self._connect() as connection:
                taken = connection.execute(
                    select(_users.id).where(_users.email_key == lookup_key(email))
                ).first()
            if taken is not None:
                raise EmailTakenError(email) from None
            return None
        return user

    @rerun_once_if_disconnected
    def settle_unproven_signup(self, user_id: int) -> bool:
        """Forget that the account was made by a passkey sign-up nobody proved the address of;
        tell whether it was (once: the first password reset after the sign-up)."""
        with self._transaction() as work:
            result = work.execute(
                update(passkey_handles_table)
                .where(_handles.user_id == user_id, _handles.unproven_signup)
                .values(unproven_signup=False)
            )
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def use_passkey(
        self, passkey_id: int, seen_count: int, new_count: int, backed_up: bool, now: datetime
    ) -> bool:
        """Record a login with the passkey: its new counter, if the counter is still the one
        seen (of two logins racing with one counter value, one wins); tell whether."""
        with self._transaction() as work:
            result = work.execute(
                update(passkeys_table)
                .where(_keys.id == passkey_id, _keys.sign_count == seen_count)
                .values(sign_count=new_count, backed_up=backed_up, last_used_at=now)
            )
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def rename_passkey(self, user_id: int, passkey_id: int, name: str) -> bool:
        """Rename one of the user's passkeys; tell whether the user has it."""
        with self._transaction() as work:
            result = work.execute(
                update(passkeys_table)
                .where(_keys.id == passkey_id, _keys.user_id == user_id)
                .values(name=name)
            )
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def remove_passkey(
        self, user_id: int, passkey_id: int, *, has_password: bool, keep_session: int
    ) -> bool | None:
        """Delete one of the user's passkeys, as a credential change, unless it is the
        account's last way to log in. Return True when deleted, False when the user has no
        such passkey, None when it is the last way in (nothing changes)."""
        with self._transaction() as work:
            # The users row first: a parallel removal of the other passkey waits here.
            work.execute(update(users_table).where(_users.id == user_id).values(id=_users.id))
            mine = select(_keys.id).where(_keys.user_id == user_id)
            ids = {int(row.id) for row in work.execute(mine)}
            if passkey_id not in ids:
                return False
            if not has_password and len(ids) == 1:
                return None
            work.execute(delete(passkeys_table).where(_keys.id == passkey_id))
            change_credentials(work, user_id, keep_session=keep_session)
        return True

    @rerun_once_if_disconnected
    def remove_passkeys(self, user_id: int) -> bool:
        """Delete every passkey of the user (an administrator's reset); tell whether any."""
        with self._transaction() as work:
            result = work.execute(delete(passkeys_table).where(_keys.user_id == user_id))
            return bool(result.rowcount)

    @rerun_once_if_disconnected
    def pending_login_owner(self, digest: str, now: datetime) -> int | None:
        """Return the account of the live pending login with this digest, or None (a read:
        no attempt is counted)."""
        statement = select(_pending.user_id).where(
            _pending.digest == digest, _pending.expires_at > now
        )
        with self._connect() as connection:
            owner = connection.execute(statement).scalar()
        return None if owner is None else int(owner)

    @rerun_once_if_disconnected
    def add_webauthn_challenge(
        self,
        digest: str,
        purpose: str,
        binding: str,
        user_id: int | None,
        payload: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a ceremony's challenge digest; expired challenges go at the same time."""
        with self._transaction() as work:
            work.execute(delete(webauthn_challenges_table).where(_challenges.expires_at <= now))
            work.execute(
                insert(webauthn_challenges_table).values(
                    digest=digest,
                    purpose=purpose,
                    binding=binding,
                    user_id=user_id,
                    payload=payload,
                    expires_at=expires_at,
                )
            )

    @rerun_once_if_disconnected
    def take_webauthn_challenge(
        self, digest: str, purpose: str, binding: str, now: datetime
    ) -> TakenChallenge | None:
        """Spend the live challenge with this digest, purpose and binding; return what it
        carried, or None. One DELETE: of two requests with one challenge, one gets it."""
        with self._transaction() as work:
            row = work.execute(
                delete(webauthn_challenges_table)
                .where(
                    _challenges.digest == digest,
                    _challenges.purpose == purpose,
                    _challenges.binding == binding,
                    _challenges.expires_at > now,
                )
                .returning(_challenges.user_id, _challenges.payload)
            ).first()
        return None if row is None else TakenChallenge(row.user_id, row.payload)


def _row(user_id: int, passkey: NewPasskey, now: datetime) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "credential_id": passkey.credential_id,
        "public_key": passkey.public_key,
        "sign_count": passkey.sign_count,
        "transports": " ".join(passkey.transports),
        "backed_up": passkey.backed_up,
        "name": passkey.name,
        "created_at": now,
    }


def _passkey(row: Row[Any]) -> StoredPasskey:
    values = row._mapping  # Row's public mapping view (the underscore avoids column names)
    used = values["last_used_at"]
    return StoredPasskey(
        id=int(values["id"]),
        user_id=int(values["user_id"]),
        credential_id=str(values["credential_id"]),
        name=str(values["name"]),
        sign_count=int(values["sign_count"]),
        transports=tuple(str(values["transports"]).split()),
        backed_up=bool(values["backed_up"]),
        created_at=as_utc(values["created_at"]),
        last_used_at=None if used is None else as_utc(used),
        public_key=str(values["public_key"]),
    )
