"""The OpenID Connect provider at rest: clients, subjects, codes, tokens, consents, keys.

Codes and tokens are stored as digests (tokens.digest); spending a code or a refresh token
is one conditional UPDATE inside the transaction that stores what it issues, so of two
requests racing with the same one, exactly one gets tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from userauth.db.base import Store, enabled, rerun_once_if_disconnected
from userauth.models import (
    oidc_clients_table,
    oidc_codes_table,
    oidc_consents_table,
    oidc_keys_table,
    oidc_subjects_table,
    oidc_tokens_table,
    sessions_table,
    users_table,
)

_clients = oidc_clients_table.c
_codes = oidc_codes_table.c
_tokens = oidc_tokens_table.c
_consents = oidc_consents_table.c
_keys = oidc_keys_table.c
_subjects = oidc_subjects_table.c
_users = users_table.c
_sessions = sessions_table.c

Values = Mapping[str, Any]


@dataclass(frozen=True)
class StoredClient:
    """A registered relying party; its secret only as a digest, out of `repr`."""

    client_id: str
    name: str
    redirect_uris: str
    post_logout_redirect_uris: str
    backchannel_logout_uri: str | None
    first_party: bool
    created_at: datetime
    secret_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StoredCode:
    """An authorization code's row (its digest out of `repr`)."""

    id: int
    client_id: str
    user_id: int
    session_id: int | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    amr: str
    acr: str
    auth_time: datetime
    expires_at: datetime
    used_at: datetime | None
    code_digest: str = field(default="", repr=False)


@dataclass(frozen=True)
class StoredToken:
    """One issuance of the token endpoint (its digests out of `repr`)."""

    id: int
    client_id: str
    user_id: int
    session_id: int | None
    family: str
    scope: str
    amr: str
    acr: str
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime
    refresh_expires_at: datetime | None
    refresh_used_at: datetime | None
    revoked_at: datetime | None
    issuer: str
    code_digest: str | None = field(default=None, repr=False)


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
class EndedLogin:
    """A client a user logged into from a session that has ended."""

    user_id: int
    client_id: str
    issuer: str
    backchannel_logout_uri: str | None


@dataclass(frozen=True)
class StoredConsent:
    """What a user let a client have."""

    client_id: str
    client_name: str
    scope: str
    granted_at: datetime


def _record(kind: type[Any], row: Any) -> Any:
    return kind(**{name: getattr(row, name) for name in kind.__dataclass_fields__})


class OidcStore(Store):
    """Every query of the OpenID Connect provider."""

    @rerun_once_if_disconnected
    def add_client(self, values: Values) -> None:
        """Store a new client."""
        with self._transaction() as work:
            work.execute(insert(oidc_clients_table).values(**values))

    @rerun_once_if_disconnected
    def client(self, client_id: str) -> StoredClient | None:
        """Return the client with this id, or None."""
        statement = select(oidc_clients_table).where(_clients.client_id == client_id)
        with self._reads.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _record(StoredClient, row)

    @rerun_once_if_disconnected
    def clients(self) -> Sequence[StoredClient]:
        """Return every client, oldest first."""
        statement = select(oidc_clients_table).order_by(_clients.id)
        with self._reads.connect() as connection:
            return [_record(StoredClient, row) for row in connection.execute(statement)]

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
    def enabled_email(self, user_id: int) -> str | None:
        """Return the email of an enabled account, or None."""
        statement = select(_users.email).where(_users.id == user_id, enabled(_users.id))
        with self._reads.connect() as connection:
            email = connection.execute(statement).scalar()
        return None if email is None else str(email)

    @rerun_once_if_disconnected
    def save_code(self, values: Values) -> None:
        """Store an authorization code."""
        with self._transaction() as work:
            work.execute(insert(oidc_codes_table).values(**values))

    @rerun_once_if_disconnected
    def code(self, code_digest: str) -> StoredCode | None:
        """Return the code with this digest (spent or not), or None."""
        statement = select(oidc_codes_table).where(_codes.code_digest == code_digest)
        with self._reads.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _record(StoredCode, row)

    @rerun_once_if_disconnected
    def nonce_was_used(self, client_id: str, nonce: str) -> bool:
        """Tell whether a code of this client already carries this nonce."""
        statement = select(_codes.id).where(_codes.client_id == client_id, _codes.nonce == nonce)
        with self._reads.connect() as connection:
            return connection.execute(statement.limit(1)).first() is not None

    @rerun_once_if_disconnected
    def issue_from_code(self, code_digest: str, token: Values, now: datetime) -> bool:
        """Spend the code and store the tokens it issues, in one transaction; tell whether
        the code was still unspent (False: nothing stored)."""
        with self._transaction() as work:
            spent = work.execute(
                update(oidc_codes_table)
                .where(_codes.code_digest == code_digest, _codes.used_at.is_(None))
                .values(used_at=now)
            )
            if not spent.rowcount:
                return False
            work.execute(insert(oidc_tokens_table).values(**token))
        return True

    @rerun_once_if_disconnected
    def revoke_issued_from_code(self, code_digest: str, now: datetime) -> int:
        """Revoke every token a code issued, refreshed ones included; return how many."""
        with self._transaction() as work:
            result = work.execute(
                update(oidc_tokens_table)
                .where(_tokens.code_digest == code_digest, _tokens.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    @rerun_once_if_disconnected
    def token_by(self, kind: str, token_digest: str) -> StoredToken | None:
        """Return the issuance whose `access` or `refresh` token has this digest, or None."""
        column = _tokens.access_digest if kind == "access" else _tokens.refresh_digest
        statement = select(oidc_tokens_table).where(column == token_digest)
        with self._reads.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else _record(StoredToken, row)

    @rerun_once_if_disconnected
    def rotate_refresh(self, old_id: int, token: Values, now: datetime) -> bool:
        """Spend a refresh token and store its successor in one transaction; tell whether it
        was unspent and unrevoked (False: nothing stored)."""
        with self._transaction() as work:
            spent = work.execute(
                update(oidc_tokens_table)
                .where(
                    _tokens.id == old_id,
                    _tokens.refresh_used_at.is_(None),
                    _tokens.revoked_at.is_(None),
                )
                .values(refresh_used_at=now)
            )
            if not spent.rowcount:
                return False
            work.execute(insert(oidc_tokens_table).values(**token))
        return True

    @rerun_once_if_disconnected
    def revoke_tokens(
        self, now: datetime, *, token_id: int | None = None, family: str = ""
    ) -> int:
        """Revoke one issuance (`token_id`) or a whole family; return how many were live."""
        condition = _tokens.id == token_id if token_id is not None else _tokens.family == family
        with self._transaction() as work:
            result = work.execute(
                update(oidc_tokens_table)
                .where(condition, _tokens.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    @rerun_once_if_disconnected
    def end_orphaned_logins(self, user_id: int | None, now: datetime) -> Sequence[EndedLogin]:
        """Revoke the live tokens whose session has ended (of one user, or of all); return
        each (user, client, issuer) they belonged to once, with the client's back-channel
        logout URI."""
        ended = (
            (_tokens.revoked_at.is_(None))
            & _tokens.session_id.is_not(None)
            & ~select(_sessions.id).where(_sessions.id == _tokens.session_id).exists()
        )
        if user_id is not None:
            ended = ended & (_tokens.user_id == user_id)
        statement = (
            select(
                _tokens.user_id,
                _tokens.client_id,
                _tokens.issuer,
                _clients.backchannel_logout_uri,
            )
            .distinct()
            .join(oidc_clients_table, _clients.client_id == _tokens.client_id)
            .where(ended)
        )
        with self._transaction() as work:
            found = [_record(EndedLogin, row) for row in work.execute(statement)]
            if found:
                work.execute(update(oidc_tokens_table).where(ended).values(revoked_at=now))
        return found

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
        with self._reads.connect() as connection:
            return [_record(StoredConsent, row) for row in connection.execute(statement)]

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
            .where(_tokens.user_id == user_id, _tokens.revoked_at.is_(None), live)
            .order_by(_tokens.issued_at.desc(), _tokens.id.desc())
        )
        newest: dict[str, StoredConsent] = {}
        with self._reads.connect() as connection:
            for row in connection.execute(statement):
                newest.setdefault(row.client_id, _record(StoredConsent, row))
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
            revoked = work.execute(
                update(oidc_tokens_table)
                .where(
                    _tokens.user_id == user_id,
                    _tokens.client_id == client_id,
                    _tokens.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return bool(result.rowcount) or bool(revoked.rowcount)

    @rerun_once_if_disconnected
    def signing_keys(self) -> Sequence[StoredKey]:
        """Return every signing key, oldest first."""
        statement = select(oidc_keys_table).order_by(_keys.id)
        with self._reads.connect() as connection:
            return [_record(StoredKey, row) for row in connection.execute(statement)]

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
