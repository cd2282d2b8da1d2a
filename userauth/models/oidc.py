"""The OpenID Connect provider's tables (userauth/oidc/): clients, subjects, authorization
codes, tokens, consents and signing keys."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from userauth.models.columns import metadata, moment, user_id_column

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
    moment("created_at"),
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
    user_id_column(),
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
    moment("auth_time"),
    moment("expires_at", index=True),
    moment("used_at", nullable=True),
)

# One issuance of the token endpoint: an access token and a refresh token (digests). Each
# refresh makes a new row of the same family; a refresh token used twice revokes the family
# (RFC 9700 4.14), a code used twice revokes what it issued (RFC 6749 4.1.2).
oidc_tokens_table = Table(
    "oidc_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    _client_id(),
    user_id_column(),
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
    moment("auth_time"),
    moment("issued_at"),
    moment("expires_at", index=True),
    moment("refresh_expires_at", nullable=True),
    moment("refresh_used_at", nullable=True),
    moment("revoked_at", nullable=True),
)

# What a user let a client have (scopes, space-separated), asked once per client and scope.
oidc_consents_table = Table(
    "oidc_consents",
    metadata,
    Column("id", Integer, primary_key=True),
    user_id_column(),
    _client_id(),
    Column("scope", Text, nullable=False),
    moment("granted_at"),
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
    moment("created_at"),
    moment("signs_from"),
    moment("retire_after", nullable=True),
)
