"""The mail outbox keeps the asker's language: `mail_jobs.accept_language`.

A job's mail is written later, outside the request (outbox.py), in the language the asker's
Accept-Language header chose (mail_templates.py). Jobs queued before this revision have
none and are written in the default language, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_jobs") as batch:
        batch.add_column(
            sa.Column("accept_language", sa.String(256), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_jobs") as batch:
        batch.drop_column("accept_language")
