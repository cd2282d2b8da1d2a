"""The account tables: users, their device sessions, one-time secrets, disabled accounts and
the audit trail."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from userauth.models.columns import PasswordHash, metadata, moment, now, user_id_column

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
    moment("email_verified_at", nullable=True),
    # When the account was made (GET /me); None for accounts older than revision 0010
    # with no audit event to date them.
    Column("created_at", DateTime(timezone=True), nullable=True, default=now),
)
# Uniqueness is the database's job, so two concurrent sign-ups cannot both win; on the key,
# so "the same email" is one rule, Python's, on SQLite and PostgreSQL alike.
Index("uq_users_email_key", users_table.c.email_key, unique=True)

# One logged-in device: the digest of its session id, and its clocks.
sessions_table = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    Column("id_digest", String(64), nullable=False, unique=True),
    # What the user sees and names (GET /sessions, revoking one): random, not `id`.
    Column("public_id", String(32), nullable=False),
    moment("created_at"),
    moment("last_used_at"),
    # Indexed for the janitor's batches (userauth/janitor.py); last_used_at is not, so that
    # writing an idle clock stays a heap-only update on PostgreSQL (no index entry to add).
    moment("expires_at", index=True),
    Column("user_agent", String(512), nullable=False, default=""),
    Column("client_address", String(64), nullable=False, default=""),
    # How the session was made: RFC 8176 `amr` values, space-separated ("pwd", "pwd otp"),
    # the NIST SP 800-63B assurance level they reach, and the last authentication's time.
    Column("amr", String(64), nullable=False, server_default="pwd"),
    Column("aal", Integer, nullable=False, server_default="1"),
    moment("authenticated_at"),
)

Index("uq_sessions_public_id", sessions_table.c.public_id, unique=True)

# A pending one-time secret (a reset token today): its digest, purpose and expiry. Spent by
# deleting the row, so a secret can be used once however many requests race. It may have no
# user yet (a sign-up to confirm) and carry a payload (a new address); several may be live.
one_time_secrets_table = Table(
    "one_time_secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(nullable=True),
    Column("purpose", String(32), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    moment("expires_at", index=True),
    Column("payload", Text, nullable=True),
    # The user's credential version when issued: a later credential change voids it.
    Column("credential_version", Integer, nullable=True),
)

# Something that happened to an account; never holds a password, token or session id.
audit_events_table = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(ondelete="SET NULL", nullable=True),
    Column("event", String(64), nullable=False),
    # The account's email when the event was recorded: it outlives a deleted account.
    Column("email", String(250), nullable=True),
    Column("client_address", String(64), nullable=False, default=""),
    Column("user_agent", String(512), nullable=False, default=""),
    moment("created_at", index=True),
    # lookup_key(email): `audit list --email` finds a deleted account's events by it.
    Column("email_key", String(250), nullable=True),
)

# An account an administrator has disabled: it cannot log in.
disabled_users_table = Table(
    "disabled_users",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    moment("disabled_at"),
)
