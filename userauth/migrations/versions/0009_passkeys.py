"""Passkeys: WebAuthn credentials, each account's random user handle, pending ceremonies.

Nothing existing changes: three new tables.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def _owner(*, nullable: bool = False) -> sa.Column[int]:
    owner = sa.ForeignKey("users.id", ondelete="CASCADE")
    return sa.Column("user_id", sa.Integer, owner, nullable=nullable, index=True)


def _moment(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("sign_count", sa.BigInteger, nullable=False),
        sa.Column("transports", sa.String(128), nullable=False),
        sa.Column("backed_up", sa.Boolean, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        _moment("created_at"),
        _moment("last_used_at", nullable=True),
    )
    op.create_table(
        "passkey_handles",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("handle", sa.String(128), nullable=False, unique=True),
        sa.Column("unproven_signup", sa.Boolean, nullable=False),
    )
    op.create_table(
        "webauthn_challenges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("binding", sa.String(64), nullable=False),
        _owner(nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        _moment("expires_at"),
    )
    op.create_index("ix_webauthn_challenges_expires_at", "webauthn_challenges", ["expires_at"])


def downgrade() -> None:
    for name in ("webauthn_challenges", "passkey_handles", "passkeys"):
        op.drop_table(name)
