"""The provider's hot read: a token with its client and account, in one prebuilt statement.

The token endpoint's refresh grant, userinfo, introspection and revocation each start from a
presented token and then ask for its client, its account's email (enabled accounts only) and
subject. One joined read answers all four, and its statements are built once at import with
bound parameters (as db/sessions.py's _LIVE_SESSION), so a request pays neither the
statement's construction nor further round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Select, and_, bindparam, select

from userauth.db.base import enabled, rerun_once_if_disconnected
from userauth.db.oidc import ProviderRecords, StoredClient, record, session_exists
from userauth.db.oidc_tokens import StoredToken
from userauth.models import (
    oidc_clients_table,
    oidc_subjects_table,
    oidc_tokens_table,
    users_table,
)

_clients = oidc_clients_table.c
_tokens = oidc_tokens_table.c
_users = users_table.c
_subjects = oidc_subjects_table.c

# The client's columns but its id (the token's own `client_id`), prefixed: `client_name`...
_CLIENT_FIELDS = [field.name for field in fields(StoredClient) if field.name != "client_id"]


@dataclass(frozen=True)
class HeldToken:
    """A presented token's issuance, its client, and its account's email (None: the account
    is disabled) and subject (None: none was made yet)."""

    # Out of repr, as every record holding a digest keeps it (the token's digests).
    token: StoredToken = field(repr=False)
    client: StoredClient
    email: str | None
    subject: str | None

    @classmethod
    def of_row(cls, row: Any) -> HeldToken:
        client = {name: getattr(row, f"client_{name}") for name in _CLIENT_FIELDS}
        return cls(
            token=record(StoredToken, row),
            client=StoredClient(client_id=row.client_id, **client),
            email=row.email,
            subject=row.subject,
        )


def _held_by(digest_column: Any) -> Select[Any]:
    """The token whose digest in `digest_column` is bound as `digest`, joined to its client,
    account and subject; no row once the session it was issued from has ended."""
    # Not the presented token's digests: nothing reads them back.
    token_columns = [c for c in _tokens if c.name not in ("access_digest", "refresh_digest")]
    client_columns = [_clients[name].label(f"client_{name}") for name in _CLIENT_FIELDS]
    return (
        select(*token_columns, *client_columns, _users.email, _subjects.subject)
        .join(oidc_clients_table, _clients.client_id == _tokens.client_id)
        .outerjoin(users_table, and_(_users.id == _tokens.user_id, enabled(_tokens.user_id)))
        .outerjoin(oidc_subjects_table, _subjects.user_id == _tokens.user_id)
        .where(digest_column == bindparam("digest"), session_exists(_tokens.session_public_id))
    )


_HELD_BY = {
    "access": _held_by(_tokens.access_digest),
    "refresh": _held_by(_tokens.refresh_digest),
}


class OidcGrantStore(ProviderRecords):
    """The presented token, with everything its endpoint asks next."""

    @rerun_once_if_disconnected
    def held_token(self, kind: str, token_digest: str) -> HeldToken | None:
        """Return the issuance whose `access` or `refresh` token has this digest (live or
        not) with its client, email and subject; None when there is none, or its session
        has ended."""
        with self._reads.connect() as connection:
            row = connection.execute(_HELD_BY[kind], {"digest": token_digest}).first()
        return None if row is None else HeldToken.of_row(row)
