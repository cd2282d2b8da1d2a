"""The janitor's lease, and indexes on the expiry columns it deletes by.

`leases` gets its row, "janitor", from the first janitor to run: the process that holds it
prunes, so one janitor works per deployment at a time however many servers run
(userauth/janitor.py).
Indexes on sessions.expires_at and one_time_secrets.expires_at let each of its batches find
the rows to delete without reading the table. Building the sessions index reads every row
and, on PostgreSQL, holds writes to `sessions` (logins, logouts) until it is built: a few
seconds per million rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_one_time_secrets_expires_at", "one_time_secrets", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_one_time_secrets_expires_at", table_name="one_time_secrets")
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.drop_table("leases")
