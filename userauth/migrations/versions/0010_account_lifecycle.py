"""The account's lifecycle: when each account was made and its email verified.

Every account that exists before this revision counts as verified from the moment of the
upgrade: it was made before userauth could verify an address, and turning
USERAUTH_EMAIL_VERIFICATION on later must not lock its owners out (docs/account-lifecycle.md).
Accounts made afterwards start unverified until their link is used. An existing account's
creation time is its first audit event's, when the trail still holds one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with warnings.catch_warnings():
        # Rebuilding a table on SQLite reflects users; see 0006.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("users") as batch:
            batch.add_column(
                sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    moment = sa.DateTime(timezone=True)
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("email_verified_at", moment),
        sa.column("created_at", moment),
    )
    events = sa.table(
        "audit_events", sa.column("user_id", sa.Integer), sa.column("created_at", moment)
    )
    first_event = (
        sa.select(sa.func.min(events.c.created_at))
        .where(events.c.user_id == users.c.id)
        .scalar_subquery()
    )
    op.execute(users.update().values(email_verified_at=datetime.now(UTC), created_at=first_event))


def downgrade() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        with op.batch_alter_table("users") as batch:
            batch.drop_column("created_at")
            batch.drop_column("email_verified_at")
