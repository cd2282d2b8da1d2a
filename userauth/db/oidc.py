"""The OpenID Connect provider at rest: clients, subjects, consents, signing keys.

Codes and tokens are db/oidc_tokens.py's. A client's secret is stored as a digest, a
signing key sealed (secret_box).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from userauth.db.base import Store, UnitOfWork, rerun_once_if_disconnected
from userauth.models import (
    oidc_clients_table,
    oidc_codes_table,
    oidc_consents_table,
    oidc_keys_table,
    oidc_subjects_table,
    oidc_tokens_table,
    sessions_table,
)

_clients = oidc_clients_table.c
_codes = oidc_codes_table.c
_tokens = oidc_tokens_table.c
_consents = oidc_consents_table.c
_keys = oidc_keys_table.c
_subjects = oidc_subjects_table.c

Values = Mapping[str, Any]
R = TypeVar("R")


def session_exists(column: ColumnElement[str]) -> ColumnElement[bool]:
    """The condition that the session a code or token was issued from still exists.

    A session ends by having its row deleted, on every path (logout, revocation, a
    credential change, an administrator, the janitor's pruning): what it issued dies with
    it at once, whether or not a back-channel sweep has run yet (OpenID Back-Channel
    Logout 1.0 2.7).
    """
    sessions = sessions_table.c
    return select(sessions.id).where(sessions.public_id == column).exists()


@dataclass(frozen=True)
class StoredClient:
    """A registered relying party; its secret only as a digest, out of `repr`."""

    client_id: str
    name: str
    redirect_uris: str
    post_logout_redirect_uris: str
    backchannel_logout_uri: str | None
    first_party: bool
    id_token_signed_response_alg: str
    created_at: datetime
    secret_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StoredKey:
    """A signing key: its private JWK sealed (secret_box), out of `repr`."""

    kid: str
    alg: str
    created_at: datetime
    signs_from: datetime
    retire_after: datetime | None
    sealed_jwk: str = field(default="", repr=False)


@dataclass(frozen=True)
class StoredConsent:
    """What a user let a client have."""

    client_id: str
    client_name: str
    scope: str
    granted_at: datetime


def record(kind: type[R], row: Any) -> R:
    """Return a record of `kind` (a dataclass) from a row with a column per field."""
    fields: dict[str, Any] = kind.__dataclass_fields__  # type: ignore[attr-defined]
    return kind(**{name: getattr(row, name) for name in fields})


def revoke_tokens_where(work: UnitOfWork, condition: ColumnElement[bool], now: datetime) -> int:
    """Revoke the live tokens matching `condition` inside the caller's transaction; return
    how many."""
    result = work.execute(
        update(oidc_tokens_table)
        .where(condition, _tokens.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


# Every client authentication reads this (the token endpoint, introspection, revocation):
# built once, with a bound parameter.
_CLIENT = select(oidc_clients_table).where(_clients.client_id == bindparam("client_id"))


class ProviderRecords(Store):
    """What the provider's two stores share: reading records of a statement."""

    def _first(self, kind: type[R], statement: Select[Any]) -> R | None:
        with self._reads.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else record(kind, row)

    def _all(self, kind: type[R], statement: Select[Any]) -> list[R]:
        with self._reads.connect() as connection:
            return [record(kind, row) for row in connection.execute(statement)]


class OidcStore(ProviderRecords):
    """Clients, subjects, consents and signing keys."""

    @rerun_once_if_disconnected
    def add_client(self, values: Values) -> None:
        """Store a new client."""
        with self._transaction() as work:
            work.execute(insert(oidc_clients_table).values(**values))

    @rerun_once_if_disconnected
    def client(self, client_id: str) -> StoredClient | None:
        """Return the client with this id, or None."""
        with self._reads.connect() as connection:
            row = connection.execute(_CLIENT, {"client_id": client_id}).first()
        return None if row is None else record(StoredClient, row)

    @rerun_once_if_disconnected
    def clients(self) -> Sequence[StoredClient]:
        """Return every client, oldest first."""
        return self._all(StoredClient, select(oidc_clients_table).order_by(_clients.id))

    @rerun_once_if_disconnected
    def set_client_secret(self, client_id: str, secret_digest: str) -> bool:
        """Replace a confidential client's secret digest; tell whether the client exists."""
        with self._transaction() as work:
            result = work.execute(
                update(oidc_clients_table)
                .where(_clients.client_id == client_id, _clients.secret_digest.is_not(None))
                .values(secret_digest=secret_digest)
            )
        return bool(result.rowcount)

    @rerun_once_if_disconnected
    def remove_client(self, client_id: str) -> bool:
        """Delete a client with its codes, tokens and consents; tell whether it existed."""
        with self._transaction() as work:
            for table, column in (
                (oidc_tokens_table, _tokens.client_id),
                (oidc_codes_table, _codes.client_id),
                (oidc_consents_table, _consents.client_id),
            ):
                work.execute(delete(table).where(column == client_id))
            result = work.execute(
                delete(oidc_clients_table).where(_clients.client_id == client_id)
            )
        return bool(result.rowcount)

    @rerun_once_if_disconnected
    def subject_of(self, user_id: int, new_subject: str) -> str:
        """Return the account's subject, storing `new_subject` as it on first need."""
        statement = select(_subjects.subject).where(_subjects.user_id == user_id)
        with self._reads.connect() as connection:
            subject = connection.execute(statement).scalar()
        if subject is not None:
            return str(subject)
        try:
            with self._transaction() as work:
                work.execute(
                    insert(oidc_subjects_table).values(user_id=user_id, subject=new_subject)
                )
        except IntegrityError:
            # Another request stored one first: theirs is the account's subject.
            with self._reads.connect() as connection:
                return str(connection.execute(statement).scalar_one())
        return new_subject

    @rerun_once_if_disconnected
    def consented_scope(self, user_id: int, client_id: str) -> str | None:
        """Return the scope the user let the client have, or None."""
        statement = select(_consents.scope).where(
            _consents.user_id == user_id, _consents.client_id == client_id
        )
        with self._reads.connect() as connection:
            scope = connection.execute(statement).scalar()
        return None if scope is None else str(scope)

    @rerun_once_if_disconnected
    def grant_consent(self, user_id: int, client_id: str, scope: str, now: datetime) -> None:
        """Record that the user lets the client have `scope` (replacing what it had)."""
        with self._transaction() as work:
            work.execute(
                delete(oidc_consents_table).where(
                    _consents.user_id == user_id, _consents.client_id == client_id
                )
            )
            work.execute(
                insert(oidc_consents_table).values(
                    user_id=user_id, client_id=client_id, scope=scope, granted_at=now
                )
            )

    @rerun_once_if_disconnected
    def consents(self, user_id: int) -> Sequence[StoredConsent]:
        """Return the user's consents with their clients' names, newest first."""
        statement = (
            select(
                _consents.client_id,
                _clients.name.label("client_name"),
                _consents.scope,
                _consents.granted_at,
            )
            .join(oidc_clients_table, _clients.client_id == _consents.client_id)
            .where(_consents.user_id == user_id)
            .order_by(_consents.granted_at.desc(), _consents.id.desc())
        )
        return self._all(StoredConsent, statement)

    @rerun_once_if_disconnected
    def connected_clients(self, user_id: int, now: datetime) -> Sequence[StoredConsent]:
        """Return the clients holding a live token of the user's and not in `consents`
        (first-party ones), with the scope of their newest token."""
        live = (_tokens.expires_at > now) | (_tokens.refresh_expires_at > now)
        statement = (
            select(
                _tokens.client_id,
                _clients.name.label("client_name"),
                _tokens.scope,
                _tokens.issued_at.label("granted_at"),
            )
            .join(oidc_clients_table, _clients.client_id == _tokens.client_id)
            .where(
                _tokens.user_id == user_id,
                _tokens.revoked_at.is_(None),
                live,
                session_exists(_tokens.session_public_id),
            )
            .order_by(_tokens.issued_at.desc(), _tokens.id.desc())
        )
        newest: dict[str, StoredConsent] = {}
        with self._reads.connect() as connection:
            for row in connection.execute(statement):
                newest.setdefault(row.client_id, record(StoredConsent, row))
        return list(newest.values())

    @rerun_once_if_disconnected
    def withdraw_consent(self, user_id: int, client_id: str, now: datetime) -> bool:
        """Forget a consent and revoke the client's tokens for the user; tell whether it was
        there."""
        with self._transaction() as work:
            result = work.execute(
                delete(oidc_consents_table).where(
                    _consents.user_id == user_id, _consents.client_id == client_id
                )
            )
            theirs = (_tokens.user_id == user_id) & (_tokens.client_id == client_id)
            revoked = revoke_tokens_where(work, theirs, now)
        return bool(result.rowcount) or bool(revoked)

    @rerun_once_if_disconnected
    def signing_keys(self) -> Sequence[StoredKey]:
        """Return every signing key, oldest first."""
        return self._all(StoredKey, select(oidc_keys_table).order_by(_keys.id))

    @rerun_once_if_disconnected
    def add_signing_keys(self, keys: Sequence[Values], retire: Mapping[str, datetime]) -> None:
        """Store new signing keys and set when older ones (by kid) leave the JWKS."""
        with self._transaction() as work:
            for kid, when in retire.items():
                work.execute(
                    update(oidc_keys_table).where(_keys.kid == kid).values(retire_after=when)
                )
            work.execute(insert(oidc_keys_table), list(keys))

    @rerun_once_if_disconnected
    def reseal_signing_key(self, kid: str, old: str, new: str) -> bool:
        """Replace a sealed signing key by the same key sealed again, unless it changed."""
        with self._transaction() as work:
            result = work.execute(
                update(oidc_keys_table)
                .where(_keys.kid == kid, _keys.sealed_jwk == old)
                .values(sealed_jwk=new)
            )
        return bool(result.rowcount)
