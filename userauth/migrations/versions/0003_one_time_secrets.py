"""One table for one-time secrets: reset tokens move out of users and password_resets.

Every pending reset is kept: its digest (users.reset_token) and expiry (password_resets)
become one row of one_time_secrets with the purpose "password_reset". A digest without an
expiry was already unusable and is not carried over.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

PASSWORD_RESET = "password_reset"  # noqa: S105 - a purpose, not a secret


def upgrade() -> None:
    op.create_table(
        "one_time_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index("ix_one_time_secrets_user_id", "one_time_secrets", ["user_id"])
    op.execute(
        sa.text(
            "INSERT INTO one_time_secrets (user_id, purpose, digest, expires_at)"
            " SELECT users.id, :purpose, users.reset_token, password_resets.expires_at"
            " FROM users JOIN password_resets ON password_resets.user_id = users.id"
            " WHERE users.reset_token IS NOT NULL"
        ).bindparams(purpose=PASSWORD_RESET)
    )
    op.drop_table("password_resets")
    op.drop_index("ix_users_reset_token", table_name="users")
    # Plain DROP COLUMN (SQLite 3.35+ has it): Alembic's batch mode would rebuild the table
    # and lose the expression index on lower(email), which SQLite cannot reflect.
    op.execute(sa.text("ALTER TABLE users DROP COLUMN reset_token"))


def downgrade() -> None:
    op.execute(sa.text("ALTER TABLE users ADD COLUMN reset_token VARCHAR(250)"))
    op.create_index("ix_users_reset_token", "users", ["reset_token"])
    op.create_table(
        "password_resets",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.execute(
        sa.text(
            "UPDATE users SET reset_token = (SELECT digest FROM one_time_secrets"
            " WHERE one_time_secrets.user_id = users.id AND purpose = :purpose)"
        ).bindparams(purpose=PASSWORD_RESET)
    )
    op.execute(
        sa.text(
            "INSERT INTO password_resets (user_id, expires_at)"
            " SELECT user_id, expires_at FROM one_time_secrets WHERE purpose = :purpose"
        ).bindparams(purpose=PASSWORD_RESET)
    )
    op.drop_index("ix_one_time_secrets_user_id", table_name="one_time_secrets")
    op.drop_table("one_time_secrets")
