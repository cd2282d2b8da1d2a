"""OpenID Connect provider: clients, subjects, codes, tokens, consents, signing keys.

New tables only: every account, session and secret is kept as it was.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = (
    "oidc_keys",
    "oidc_consents",
    "oidc_tokens",
    "oidc_codes",
    "oidc_subjects",
    "oidc_clients",
)


def _moment(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _owner() -> sa.Column[int]:
    owner = sa.ForeignKey("users.id", ondelete="CASCADE")
    return sa.Column("user_id", sa.Integer, owner, nullable=False, index=True)


def _client() -> sa.Column[str]:
    owner = sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE")
    return sa.Column("client_id", sa.String(64), owner, nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=True),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),
        sa.Column("backchannel_logout_uri", sa.Text, nullable=True),
        sa.Column("first_party", sa.Boolean, nullable=False),
        sa.Column(
            "id_token_signed_response_alg", sa.String(8), nullable=False, server_default="RS256"
        ),
        _moment("created_at"),
    )
    op.create_table(
        "oidc_subjects",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("subject", sa.String(64), nullable=False, unique=True),
    )
    _create_codes_and_tokens()
    op.create_table(
        "oidc_consents",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        _client(),
        sa.Column("scope", sa.Text, nullable=False),
        _moment("granted_at"),
        sa.UniqueConstraint("user_id", "client_id", name="uq_oidc_consents_user_client"),
    )
    op.create_table(
        "oidc_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kid", sa.String(64), nullable=False, unique=True),
        sa.Column("alg", sa.String(8), nullable=False),
        sa.Column("sealed_jwk", sa.Text, nullable=False),
        _moment("created_at"),
        _moment("signs_from"),
        _moment("retire_after", nullable=True),
    )


def _create_codes_and_tokens() -> None:
    op.create_table(
        "oidc_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code_digest", sa.String(64), nullable=False, unique=True),
        _client(),
        _owner(),
        sa.Column("session_public_id", sa.String(32), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(8), nullable=True),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("acr", sa.String(16), nullable=False),
        _moment("auth_time"),
        _moment("expires_at"),
        _moment("used_at", nullable=True),
    )
    op.create_index("ix_oidc_codes_expires_at", "oidc_codes", ["expires_at"])
    op.create_table(
        "oidc_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        _client(),
        _owner(),
        sa.Column("session_public_id", sa.String(32), nullable=False),
        sa.Column("access_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("refresh_digest", sa.String(64), nullable=True, unique=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("code_digest", sa.String(64), nullable=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("acr", sa.String(16), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        _moment("auth_time"),
        _moment("issued_at"),
        _moment("expires_at"),
        _moment("refresh_expires_at", nullable=True),
        _moment("refresh_used_at", nullable=True),
        _moment("revoked_at", nullable=True),
    )
    for column in ("session_public_id", "family", "code_digest", "expires_at"):
        op.create_index(f"ix_oidc_tokens_{column}", "oidc_tokens", [column])


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
