"""The shape of every row userauth stores: its tables (SQLAlchemy Core) and the records it reads.

Tables, not ORM classes: the store writes SQL statements and hands out plain records
(User, DeviceSession, AuditEvent), so no worker loads `sqlalchemy.orm`, which cost every
worker 6.3 MB of peak RSS (`python -m bench.memory`; docs/performance.md "Memory per worker"). The
migrations' head must match `metadata` (tests/test_migrations.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class PasswordHash(TypeDecorator[bytes]):
    """A bcrypt hash: stored as text (portable), handed out as bytes (what bcrypt takes)."""

    impl = String(250)
    cache_ok = True

    def process_bind_param(self, value: bytes | str | None, dialect: Dialect) -> str | None:
        if isinstance(value, bytes):
            return value.decode("ascii", errors="replace")
        return value

    def process_result_value(self, value: str | bytes | None, dialect: Dialect) -> bytes | None:
        # SQLite keeps bytes written by the original design as BLOBs; they come back as bytes.
        if value is None or isinstance(value, bytes):
            return value
        return value.encode("ascii", errors="replace")


# What an account made with a passkey alone stores as its hash (passkey_signups.py): no
# password matches it, and the account may set one without giving a current one.
NO_PASSWORD = b""


def _user_id(*, ondelete: str = "CASCADE", nullable: bool = False) -> Column[int]:
    """The indexed `user_id` column of a row that belongs to an account (`users.id`)."""
    owner = ForeignKey("users.id", ondelete=ondelete)
    return Column("user_id", Integer, owner, nullable=nullable, index=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(name: str, *, nullable: bool = False, index: bool | None = None) -> Column[datetime]:
    """A timezone-aware timestamp column."""
    return Column(name, DateTime(timezone=True), nullable=nullable, index=index)


# An account: its email and password hash; everything else lives in other tables.
users_table = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(250), nullable=False),
    Column("hashed_password", PasswordHash(), nullable=False),
    # Digest of the newest session id (SPEC.md C2); the live sessions are in `sessions`.
    Column("session_id", String(250), nullable=True),
    # The email's key (userauth.emails.lookup_key), computed in Python by the store whenever
    # it writes `email`: every look-up compares it, never the database's own lower().
    Column("email_key", String(250), nullable=False),
    # Bumped by every change of a credential (password, a factor added or removed, a reset):
    # sessions, pending logins and one-time secrets made under an older one are refused.
    Column("credential_version", Integer, nullable=False, server_default="1"),
    # When the owner proved the address theirs (verification.py); None: not yet.
    _moment("email_verified_at", nullable=True),
    # When the account was made (GET /me); None for accounts older than revision 0010
    # with no audit event to date them.
    Column("created_at", DateTime(timezone=True), nullable=True, default=_now),
)
# Uniqueness is the database's job, so two concurrent sign-ups cannot both win; on the key,
# so "the same email" is one rule, Python's, on SQLite and PostgreSQL alike.
Index("uq_users_email_key", users_table.c.email_key, unique=True)

# One logged-in device: the digest of its session id, and its clocks.
sessions_table = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    Column("id_digest", String(64), nullable=False, unique=True),
    # What the user sees and names (GET /sessions, revoking one): random, not `id`.
    Column("public_id", String(32), nullable=False),
    _moment("created_at"),
    _moment("last_used_at"),
    # Indexed for the janitor's batches (userauth/janitor.py); last_used_at is not, so that
    # writing an idle clock stays a heap-only update on PostgreSQL (no index entry to add).
    _moment("expires_at", index=True),
    Column("user_agent", String(512), nullable=False, default=""),
    Column("client_address", String(64), nullable=False, default=""),
    # How the session was made: RFC 8176 `amr` values, space-separated ("pwd", "pwd otp"),
    # the NIST SP 800-63B assurance level they reach, and the last authentication's time.
    Column("amr", String(64), nullable=False, server_default="pwd"),
    Column("aal", Integer, nullable=False, server_default="1"),
    _moment("authenticated_at"),
)

Index("uq_sessions_public_id", sessions_table.c.public_id, unique=True)

# A pending one-time secret (a reset token today): its digest, purpose and expiry. Spent by
# deleting the row, so a secret can be used once however many requests race. It may have no
# user yet (a sign-up to confirm) and carry a payload (a new address); several may be live.
one_time_secrets_table = Table(
    "one_time_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    _moment("expires_at", index=True),
    Column("payload", Text, nullable=True),
    # The user's credential version when issued: a later credential change voids it.
    Column("credential_version", Integer, nullable=True),
)

# A second factor of an account (TOTP today): its type, its secret encrypted (secret_box.py),
# and for TOTP the last time step accepted (RFC 6238 5.2: a code is accepted once).
# Unconfirmed (confirmed_at NULL) while the user has not yet proven a code from it.
factors_table = Table(
    "factors",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    Column("type", String(32), nullable=False),
    Column("secret", Text, nullable=True),
    _moment("created_at"),
    _moment("confirmed_at", nullable=True),
    _moment("last_used_at", nullable=True),
    Column("last_step", Integer, nullable=True),
    UniqueConstraint("user_id", "type", name="uq_factors_user_type"),
)

# A recovery code not yet used: only its digest. Using it deletes the row.
recovery_codes_table = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    Column("digest", String(64), nullable=False, unique=True),
    _moment("created_at"),
)

# A login waiting for its second factor: the digest of the secret in the browser's
# login_challenge cookie, what was proven so far, and the codes tried against it.
pending_logins_table = Table(
    "pending_logins",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    Column("digest", String(64), nullable=False, unique=True),
    Column("amr", String(64), nullable=False),
    Column("credential_version", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    _moment("created_at"),
    _moment("expires_at", index=True),
)

# A passkey (WebAuthn credential): its id and COSE public key (base64url), the authenticator's
# sign counter (a counter that goes back is a cloned authenticator, WebAuthn L3 6.1.1), how
# the browser reaches it, and whether it is synced (backed up) to other devices.
passkeys_table = Table(
    "passkeys",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", String(128), nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("name", String(64), nullable=False),
    _moment("created_at"),
    _moment("last_used_at", nullable=True),
)

# Each account's WebAuthn user handle: random, never the email or the id (WebAuthn L3 14.6.1).
passkey_handles_table = Table(
    "passkey_handles",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("handle", String(128), nullable=False, unique=True),
    # The account was made by a passkey sign-up, and no password reset has proven its
    # address since (passkey_signups.py: what such a reset removes).
    Column("unproven_signup", Boolean, nullable=False, default=False),
)

# A WebAuthn ceremony begun: the digest of its challenge, what for, and the digest of what it
# is bound to (the session, or the login_challenge cookie). Used once, then deleted.
webauthn_challenges_table = Table(
    "webauthn_challenges",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("purpose", String(16), nullable=False),
    Column("binding", String(64), nullable=False),
    _user_id(nullable=True),
    Column("payload", Text, nullable=True),
    _moment("expires_at", index=True),
)

# Wrong second-factor codes per account, across pending logins, in a fixed window: a slot
# is reserved (a conditional UPDATE) before a code is checked, so parallel guesses count.
code_failures_table = Table(
    "code_failures",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("count", Integer, nullable=False),
    _moment("window_started_at"),
)

# Something that happened to an account; never holds a password, token or session id.
audit_events_table = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(ondelete="SET NULL", nullable=True),
    Column("event", String(64), nullable=False),
    # The account's email when the event was recorded: it outlives a deleted account.
    Column("email", String(250), nullable=True),
    Column("client_address", String(64), nullable=False, default=""),
    Column("user_agent", String(512), nullable=False, default=""),
    _moment("created_at", index=True),
    # lookup_key(email): `audit list --email` finds a deleted account's events by it.
    Column("email_key", String(250), nullable=True),
)

# An account an administrator has disabled: it cannot log in.
disabled_users_table = Table(
    "disabled_users",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    _moment("disabled_at"),
)

# A mail still to send: what to send to which email, never a token (issued when sent).
# Claimed by one worker at a time (claimed_until is its lease); deleted once sent or given
# up, postponed (due_at) after a failure.
mail_jobs_table = Table(
    "mail_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("email", String(250), nullable=False),
    Column("client_address", String(64), nullable=False, default=""),
    Column("user_agent", String(512), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    # The account the mail concerns (None for a stranger's email) and what the mail needs.
    Column("user_id", Integer, nullable=True),
    Column("payload", Text, nullable=True),
    _moment("due_at", index=True),
    _moment("claimed_until", nullable=True),
    _moment("created_at"),
)

# A named lease: which process holds it until when. The janitor's row ("janitor") lets one
# process per deployment prune at a time (userauth/janitor.py).
leases_table = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False, default=""),
    _moment("held_until"),
)

# OpenID Connect provider (userauth/oidc/). A relying party registered by `userauth client
# add`: its secret only as a digest (None for a public client), its URIs as JSON lists.
oidc_clients_table = Table(
    "oidc_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("secret_digest", String(64), nullable=True),
    Column("redirect_uris", Text, nullable=False),
    Column("post_logout_redirect_uris", Text, nullable=False),
    Column("backchannel_logout_uri", Text, nullable=True),
    Column("first_party", Boolean, nullable=False),
    # How its ID tokens are signed (OpenID Connect Registration 2): RS256 or ES256.
    Column("id_token_signed_response_alg", String(8), nullable=False, server_default="RS256"),
    _moment("created_at"),
)

# The stable, random `sub` of an account (OpenID Connect Core 2: never reassigned, and not
# the email, which may change; random rather than users.id, which would count accounts).
oidc_subjects_table = Table(
    "oidc_subjects",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", String(64), nullable=False, unique=True),
)


def _client_id() -> Column[str]:
    owner = ForeignKey("oidc_clients.client_id", ondelete="CASCADE")
    return Column("client_id", String(64), owner, nullable=False, index=True)


# An authorization code (digest), bound to its client, redirect URI and PKCE challenge, with
# what the ID token will say of the login; spent once (used_at), alive 60 s.
oidc_codes_table = Table(
    "oidc_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code_digest", String(64), nullable=False, unique=True),
    _client_id(),
    _user_id(),
    # The public id of the session it was issued from (never the row id, which SQLite may
    # reuse): a code or token whose session has ended is refused (OpenID Back-Channel Logout).
    Column("session_public_id", String(32), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", Text, nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(8), nullable=True),
    Column("amr", String(64), nullable=False),
    Column("acr", String(16), nullable=False),
    _moment("auth_time"),
    _moment("expires_at", index=True),
    _moment("used_at", nullable=True),
)

# One issuance of the token endpoint: an access token and a refresh token (digests). Each
# refresh makes a new row of the same family; a refresh token used twice revokes the family
# (RFC 9700 4.14), a code used twice revokes what it issued (RFC 6749 4.1.2).
oidc_tokens_table = Table(
    "oidc_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    _client_id(),
    _user_id(),
    Column("session_public_id", String(32), nullable=False, index=True),
    Column("access_digest", String(64), nullable=False, unique=True),
    Column("refresh_digest", String(64), nullable=True, unique=True),
    Column("family", String(64), nullable=False, index=True),
    Column("code_digest", String(64), nullable=True, index=True),
    Column("scope", Text, nullable=False),
    Column("amr", String(64), nullable=False),
    Column("acr", String(16), nullable=False),
    # The issuer the client saw (development's comes from the request): logout tokens say it.
    Column("issuer", Text, nullable=False),
    _moment("auth_time"),
    _moment("issued_at"),
    _moment("expires_at", index=True),
    _moment("refresh_expires_at", nullable=True),
    _moment("refresh_used_at", nullable=True),
    _moment("revoked_at", nullable=True),
)

# What a user let a client have (scopes, space-separated), asked once per client and scope.
oidc_consents_table = Table(
    "oidc_consents",
    metadata,
    Column("id", Integer, primary_key=True),
    _user_id(),
    _client_id(),
    Column("scope", Text, nullable=False),
    _moment("granted_at"),
    UniqueConstraint("user_id", "client_id", name="uq_oidc_consents_user_client"),
)

# A signing key: its private JWK sealed with secret_box (USERAUTH_ENCRYPTION_KEYS), published
# in the JWKS from created_at, signing from signs_from, published until retire_after.
oidc_keys_table = Table(
    "oidc_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kid", String(64), nullable=False, unique=True),
    Column("alg", String(8), nullable=False),
    Column("sealed_jwk", Text, nullable=False),
    _moment("created_at"),
    _moment("signs_from"),
    _moment("retire_after", nullable=True),
)


@dataclass(frozen=True)
class User:
    """An account as read from `users`: id, email, bcrypt hash, newest session's digest."""

    id: int
    email: str
    hashed_password: bytes = field(repr=False)
    session_id: str | None = field(default=None, repr=False)
    credential_version: int = 1
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        """Whether the owner proved the address theirs."""
        return self.email_verified_at is not None


@dataclass(frozen=True)
class DeviceSession:
    """A device session as read from `sessions` (its clocks as the database returns them)."""

    id: int
    user_id: int
    id_digest: str = field(repr=False)
    public_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str = ""
    client_address: str = ""
    amr: str = "pwd"
    aal: int = 1
    authenticated_at: datetime | None = None


@dataclass(frozen=True)
class NewSession:
    """A device session to store: a DeviceSession before the database gives it an id."""

    user_id: int
    id_digest: str = field(repr=False)
    public_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    client_address: str
    # RFC 8176 methods, space-separated; NIST SP 800-63B level; last authentication's time.
    amr: str
    aal: int
    authenticated_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    """An audit event as read from `audit_events`."""

    id: int
    user_id: int | None
    event: str
    email: str | None
    client_address: str
    user_agent: str
    created_at: datetime


RecordT = TypeVar("RecordT", User, DeviceSession, AuditEvent)


def record(kind: type[RecordT], row: Row[Any]) -> RecordT:
    """Build a record from a row that holds a column of each of its fields' names.

    Raises:
        AttributeError: the row lacks one of the record's fields.
    """
    return kind(**{attribute.name: getattr(row, attribute.name) for attribute in fields(kind)})
