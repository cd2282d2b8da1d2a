"""The OpenID Connect provider's codes and tokens at rest, and who they speak for.

Codes and tokens are stored as digests (tokens.digest); spending a code or a refresh token
is one conditional UPDATE inside the transaction that stores what it issues, so of two
requests racing with the same one, exactly one gets tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Update,
    bindparam,
    insert,
    select,
    update,
)

from userauth.db.base import UnitOfWork, enabled, rerun_once_if_disconnected
from userauth.db.oidc import (
    ProviderRecords,
    Values,
    record,
    revoke_tokens_where,
    session_exists,
)
from userauth.models import (
    oidc_clients_table,
    oidc_codes_table,
    oidc_subjects_table,
    oidc_tokens_table,
    sessions_table,
    users_table,
)

_clients = oidc_clients_table.c
_codes = oidc_codes_table.c
_tokens = oidc_tokens_table.c
_sessions = sessions_table.c
_users = users_table.c
_subjects = oidc_subjects_table.c


# The refresh grant runs these on every rotation: built once, with bound parameters.
_SESSION_FOR_SHARE = (
    select(_sessions.id)
    .where(_sessions.public_id == bindparam("public_id"))
    .with_for_update(read=True)
)
_SPEND_REFRESH = (
    update(oidc_tokens_table)
    .where(
        _tokens.id == bindparam("old_id"),
        _tokens.refresh_used_at.is_(None),
        _tokens.revoked_at.is_(None),
        session_exists(_tokens.session_public_id),
    )
    .values(refresh_used_at=bindparam("now"))
)
_INSERT_TOKEN = insert(oidc_tokens_table)


@dataclass(frozen=True)
class StoredCode:
    """An authorization code's row (its digest out of `repr`)."""

    id: int
    client_id: str
    user_id: int
    session_public_id: str
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
    session_public_id: str
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
class EndedLogin:
    """A client a user logged into from a session that has ended: the session's public id
    (the ID tokens' `sid`) and the account's subject (None if it never had one)."""

    user_id: int
    client_id: str
    issuer: str
    session_public_id: str
    subject: str | None
    backchannel_logout_uri: str | None


def _logins(where: ColumnElement[bool]) -> Select[Any]:
    """The distinct (client, issuer, session) of the tokens matching `where`, with the
    account's subject and the client's back-channel logout URI."""
    return (
        select(
            _tokens.user_id,
            _tokens.client_id,
            _tokens.issuer,
            _tokens.session_public_id,
            _subjects.subject,
            _clients.backchannel_logout_uri,
        )
        .distinct()
        .join(oidc_clients_table, _clients.client_id == _tokens.client_id)
        .outerjoin(oidc_subjects_table, _subjects.user_id == _tokens.user_id)
        .where(where)
    )


def _orphaned(user_id: int | BindParameter[int]) -> ColumnElement[bool]:
    """The user's live tokens whose session has ended."""
    return (
        (_tokens.user_id == user_id)
        & _tokens.revoked_at.is_(None)
        & ~session_exists(_tokens.session_public_id)
    )


# Asked after every commit that changed a user's sessions (almost every login): built once.
_ANY_ORPHANED = select(_tokens.id).where(_orphaned(bindparam("user_id"))).limit(1)


def logins_of_deleted(work: UnitOfWork, user_id: int) -> None:
    """Note on `work` the logins of an account it is about to delete (with its tokens),
    so that the clients are told once it commits (Store.on_commit)."""
    live = (_tokens.user_id == user_id) & _tokens.revoked_at.is_(None)
    rows = work.execute(_logins(live))
    work.ended_logins.extend(record(EndedLogin, row) for row in rows)


class OidcTokenStore(ProviderRecords):
    """Codes, tokens, and the accounts they speak for."""

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
        """Return the code with this digest (spent or not), or None (also when the session
        it was issued from has ended)."""
        statement = select(oidc_codes_table).where(
            _codes.code_digest == code_digest, session_exists(_codes.session_public_id)
        )
        return self._first(StoredCode, statement)

    @rerun_once_if_disconnected
    def nonce_was_used(self, client_id: str, nonce: str) -> bool:
        """Tell whether a code of this client already carries this nonce."""
        statement = select(_codes.id).where(_codes.client_id == client_id, _codes.nonce == nonce)
        with self._reads.connect() as connection:
            return connection.execute(statement.limit(1)).first() is not None

    @rerun_once_if_disconnected
    def issue_from_code(self, code_digest: str, token: Values, now: datetime) -> bool:
        """Spend the code and store the tokens it issues, in one transaction; tell whether
        the code was still unspent and its session alive (False: nothing stored)."""
        spend = (
            update(oidc_codes_table)
            .where(
                _codes.code_digest == code_digest,
                _codes.used_at.is_(None),
                session_exists(_codes.session_public_id),
            )
            .values(used_at=now)
        )
        return self._spend_and_issue(spend, token)

    def _spend_and_issue(
        self, spend: Update, token: Values, parameters: Values | None = None
    ) -> bool:
        """Run `spend` (one conditional UPDATE, with `parameters`) and, if it changed a row,
        store `token`, in one transaction; tell whether it did.

        On PostgreSQL the token's session row is read FOR SHARE first: a logout deleting it
        meanwhile waits for this commit, so its back-channel sweep sees the new token; a
        logout that came first leaves no row, and nothing is issued. Without the lock a token
        could be stored after the sweep looked. SQLite runs one writer at a time, so `spend`'s
        own session condition already sees the state a logout leaves: no read is needed.
        """
        with self._transaction() as work:
            if work.connection.dialect.name != "sqlite":
                found = work.execute(_SESSION_FOR_SHARE, {"public_id": token["session_public_id"]})
                if found.first() is None:
                    return False
            if not work.execute(spend, parameters).rowcount:
                return False
            work.execute(_INSERT_TOKEN, token)
        return True

    @rerun_once_if_disconnected
    def revoke_issued_from_code(self, code_digest: str, now: datetime) -> int:
        """Revoke every token a code issued, refreshed ones included; return how many."""
        with self._transaction() as work:
            return revoke_tokens_where(work, _tokens.code_digest == code_digest, now)

    @rerun_once_if_disconnected
    def rotate_refresh(self, old_id: int, token: Values, now: datetime) -> bool:
        """Spend a refresh token and store its successor in one transaction; tell whether it
        was unspent, unrevoked and its session alive (False: nothing stored)."""
        return self._spend_and_issue(_SPEND_REFRESH, token, {"old_id": old_id, "now": now})

    @rerun_once_if_disconnected
    def revoke_tokens(
        self, now: datetime, *, token_id: int | None = None, family: str = ""
    ) -> int:
        """Revoke one issuance (`token_id`) or a whole family; return how many were live."""
        condition = _tokens.id == token_id if token_id is not None else _tokens.family == family
        with self._transaction() as work:
            return revoke_tokens_where(work, condition, now)

    @rerun_once_if_disconnected
    def has_orphaned_logins(self, user_id: int) -> bool:
        """Tell whether the user holds a live token whose session has ended: one read, no
        transaction, so that a session change with nothing to sweep (almost every login and
        logout) costs no write transaction."""
        with self._reads.connect() as connection:
            return connection.execute(_ANY_ORPHANED, {"user_id": user_id}).first() is not None

    @rerun_once_if_disconnected
    def end_orphaned_logins(self, user_id: int, now: datetime) -> Sequence[EndedLogin]:
        """Revoke the user's live tokens whose session has ended; return each (client,
        issuer) they belonged to once, with the client's back-channel logout URI.

        One user's only: a sweep never touches another account's tokens."""
        ended = _orphaned(user_id)
        with self._transaction() as work:
            found = [record(EndedLogin, row) for row in work.execute(_logins(ended))]
            if found:
                revoke_tokens_where(work, ended, now)
        return found
