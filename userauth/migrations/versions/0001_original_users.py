"""The original design's schema: one `users` table with SPEC.md's five columns.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(250), nullable=False),
        sa.Column("hashed_password", sa.String(250), nullable=False),
        sa.Column("session_id", sa.String(250), nullable=True),
        sa.Column("reset_token", sa.String(250), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("users")
