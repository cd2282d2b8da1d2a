"""Second factors: login transactions, factors, recovery codes, credential versions.

Every row is kept. Users start at credential version 1; existing sessions were made with a
password alone (amr "pwd", AAL1) and count as authenticated when they were made; one-time
secrets may have no user and carry a payload; mail jobs name their user and a payload.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import warnings
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _owner() -> sa.Column[int]:
    owner = sa.ForeignKey("users.id", ondelete="CASCADE")
    return sa.Column("user_id", sa.Integer, owner, nullable=False, index=True)


def upgrade() -> None:
    with warnings.catch_warnings():
        # Rebuilding a table on SQLite reflects users; see 0006.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        _alter_existing_tables()
    _create_new_tables()


def _alter_existing_tables() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("credential_version", sa.Integer, nullable=False, server_default="1")
        )
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("amr", sa.String(64), nullable=False, server_default="pwd"))
        batch.add_column(sa.Column("aal", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(_moment("authenticated_at", nullable=True))
    op.execute(sa.text("UPDATE sessions SET authenticated_at = created_at"))
    with op.batch_alter_table("sessions") as batch:
        batch.alter_column(
            "authenticated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    with op.batch_alter_table("one_time_secrets") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("payload", sa.Text, nullable=True))
        batch.add_column(sa.Column("credential_version", sa.Integer, nullable=True))
    with op.batch_alter_table("mail_jobs") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("payload", sa.Text, nullable=True))


def _create_new_tables() -> None:
    op.create_table(
        "factors",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("secret", sa.Text, nullable=True),
        _moment("created_at"),
        _moment("confirmed_at", nullable=True),
        _moment("last_used_at", nullable=True),
        sa.Column("last_step", sa.Integer, nullable=True),
        sa.UniqueConstraint("user_id", "type", name="uq_factors_user_type"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        _moment("created_at"),
    )
    op.create_table(
        "pending_logins",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("credential_version", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _moment("created_at"),
        _moment("expires_at"),
    )
    op.create_index("ix_pending_logins_expires_at", "pending_logins", ["expires_at"])
    op.create_table(
        "code_failures",
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("count", sa.Integer, nullable=False),
        _moment("window_started_at"),
    )


def downgrade() -> None:
    for name in ("code_failures", "pending_logins", "recovery_codes", "factors"):
        op.drop_table(name)
    # Secrets without a user cannot go back to a table that requires one.
    op.execute(sa.text("DELETE FROM one_time_secrets WHERE user_id IS NULL"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("mail_jobs") as batch:
            batch.drop_column("payload")
            batch.drop_column("user_id")
        with op.batch_alter_table("one_time_secrets") as batch:
            batch.drop_column("credential_version")
            batch.drop_column("payload")
            batch.alter_column("user_id", existing_type=sa.Integer, nullable=False)
        with op.batch_alter_table("sessions") as batch:
            batch.drop_column("authenticated_at")
            batch.drop_column("aal")
            batch.drop_column("amr")
        with op.batch_alter_table("users") as batch:
            batch.drop_column("credential_version")
