"""The tables of the ways to prove an account: second factors, recovery codes, pending logins,
passkeys and their WebAuthn ceremonies, and the budget of wrong codes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from userauth.models.columns import metadata, moment, user_id_column

# A second factor of an account (TOTP today): its type, its secret encrypted (secret_box.py),
# and for TOTP the last time step accepted (RFC 6238 5.2: a code is accepted once).
# Unconfirmed (confirmed_at NULL) while the user has not yet proven a code from it.
factors_table = Table(
    "factors",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    Column("type", String(32), nullable=False),
    Column("secret", Text, nullable=True),
    moment("created_at"),
    moment("confirmed_at", nullable=True),
    moment("last_used_at", nullable=True),
    Column("last_step", Integer, nullable=True),
    UniqueConstraint("user_id", "type", name="uq_factors_user_type"),
)

# A recovery code not yet used: only its digest. Using it deletes the row.
recovery_codes_table = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    Column("digest", String(64), nullable=False, unique=True),
    moment("created_at"),
)

# A login waiting for its second factor: the digest of the secret in the browser's
# login_challenge cookie, what was proven so far, and the codes tried against it.
pending_logins_table = Table(
    "pending_logins",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    Column("digest", String(64), nullable=False, unique=True),
    Column("amr", String(64), nullable=False),
    Column("credential_version", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    moment("created_at"),
    moment("expires_at", index=True),
)

# A passkey (WebAuthn credential): its id and COSE public key (base64url), the authenticator's
# sign counter (a counter that goes back is a cloned authenticator, WebAuthn L3 6.1.1), how
# the browser reaches it, and whether it is synced (backed up) to other devices.
passkeys_table = Table(
    "passkeys",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", Text, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("transports", String(128), nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("name", String(64), nullable=False),
    moment("created_at"),
    moment("last_used_at", nullable=True),
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
    user_id_column(nullable=True),
    Column("payload", Text, nullable=True),
    moment("expires_at", index=True),
)

# Wrong second-factor codes per account, across pending logins, in a fixed window: a slot
# is reserved (a conditional UPDATE) before a code is checked, so parallel guesses count.
code_failures_table = Table(
    "code_failures",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("count", Integer, nullable=False),
    moment("window_started_at"),
)
