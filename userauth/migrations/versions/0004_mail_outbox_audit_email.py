"""A durable mail outbox (mail_jobs), and the account's email on each audit event.

Every existing row is kept: audit events linked to an account get that account's email;
events of accounts already deleted (user_id NULL) keep no email, since none is known.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "mail_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("email", sa.String(250), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mail_jobs_due_at", "mail_jobs", ["due_at"])
    # Plain ADD COLUMN: Alembic's batch mode would rebuild the table (see 0003).
    op.execute(sa.text("ALTER TABLE audit_events ADD COLUMN email VARCHAR(250)"))
    op.execute(
        sa.text(
            "UPDATE audit_events SET email ="
            " (SELECT users.email FROM users WHERE users.id = audit_events.user_id)"
            " WHERE user_id IS NOT NULL"
        )
    )


def downgrade() -> None:
    op.execute(sa.text("ALTER TABLE audit_events DROP COLUMN email"))
    op.drop_index("ix_mail_jobs_due_at", table_name="mail_jobs")
    op.drop_table("mail_jobs")
