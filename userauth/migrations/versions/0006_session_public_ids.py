"""Device sessions get a random public id: what users see and name instead of the row number.

Every existing session is kept, live, and gets its own public id (22 URL-safe characters,
128 random bits), so listing and revoking keep working across the upgrade. Row numbers
1, 2, 3 … told anyone who saw two of them how many sessions the service had made.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import secrets
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
    connection = op.get_bind()
    row_ids = connection.execute(sa.text("SELECT id FROM sessions")).scalars().all()
    # The same generator as userauth.tokens.new_public_id, written out: a migration must
    # not change when the application's code does.
    if row_ids:
        connection.execute(
            sa.text("UPDATE sessions SET public_id = :public_id WHERE id = :id"),
            [{"id": row_id, "public_id": secrets.token_urlsafe(16)} for row_id in row_ids],
        )
    # SQLite rebuilds the table for NOT NULL (batch mode); PostgreSQL alters it in place.
    with warnings.catch_warnings():
        # Rebuilding sessions reflects users (its foreign key), whose lower(email) index SQLite
        # cannot reflect; that index is untouched, since users is not rebuilt.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("sessions") as batch:
            batch.alter_column("public_id", existing_type=sa.String(32), nullable=False)
    op.create_index("uq_sessions_public_id", "sessions", ["public_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_sessions_public_id", table_name="sessions")
    # Plain DROP COLUMN (SQLite 3.35+ has it), as in 0003: no rebuild needed on the way down.
    op.execute(sa.text("ALTER TABLE sessions DROP COLUMN public_id"))
