"""userauth's schema: device sessions, reset expiry, audit trail, disabled accounts, indexes.

The users table keeps exactly SPEC.md's five columns; what it gains are two indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from userauth.migrations import DuplicateEmailsError

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# How many duplicated emails the error message names before it says "and N more".
MAX_NAMED_DUPLICATES = 20


def upgrade() -> None:
    # First, before any change, so a refused upgrade leaves the database as it was.
    _refuse_duplicate_emails()
    _forget_clear_secrets()
    _store_hashes_as_text()
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    op.create_index("ix_users_reset_token", "users", ["reset_token"])
    _create_tables()


def downgrade() -> None:
    op.drop_table("disabled_users")
    op.drop_index("ix_audit_events_created_at", table_name="audit_events")
    op.drop_index("ix_audit_events_user_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("password_resets")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    op.drop_table("sessions")
    op.drop_index("ix_users_reset_token", table_name="users")
    op.drop_index("uq_users_email_lower", table_name="users")
    # The columns now hold digests; the original design would take a digest read from the
    # table as a valid session id, so none may survive the way down either.
    op.execute(sa.text("UPDATE users SET session_id = NULL, reset_token = NULL"))


def _refuse_duplicate_emails() -> None:
    """Stop when two accounts share an email in different letter case (no unique index then)."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT email FROM users WHERE lower(email) IN ("
            " SELECT lower(email) FROM users GROUP BY lower(email) HAVING count(*) > 1"
            ") ORDER BY lower(email), id"
        )
    ).scalars()
    groups: dict[str, list[str]] = {}
    for email in rows:
        groups.setdefault(email.lower(), []).append(email)
    if groups:
        raise DuplicateEmailsError(list(groups.values()), MAX_NAMED_DUPLICATES)


def _forget_clear_secrets() -> None:
    # The original design stored session ids and reset tokens in clear; userauth stores
    # digests (SPEC.md C2). A clear token must not survive at rest, and a digest cannot be
    # computed back into a usable session, so every user logs in again and any pending reset
    # must be asked for again.
    op.execute(sa.text("UPDATE users SET session_id = NULL, reset_token = NULL"))


def _store_hashes_as_text() -> None:
    """Turn hashes the original design wrote as bytes into the text every later row holds."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite kept bcrypt's bytes as BLOBs in the VARCHAR column.
        op.execute(
            sa.text(
                "UPDATE users SET hashed_password = CAST(hashed_password AS TEXT)"
                " WHERE typeof(hashed_password) = 'blob'"
            )
        )
    elif op.get_bind().dialect.name == "postgresql":
        # PostgreSQL cast the bytea parameter into the VARCHAR column as '\x<hex>' text.
        # A bcrypt hash starts with '$2', so the prefix cannot be a real hash.
        op.execute(
            sa.text(
                "UPDATE users"
                " SET hashed_password = convert_from(decode(substr(hashed_password, 3), 'hex'),"
                " 'UTF8') WHERE left(hashed_password, 2) = :prefix"
            ).bindparams(prefix="\\x")
        )


def _create_tables() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("id_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_digest"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "password_resets",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_user_id", "audit_events", ["user_id"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])
    op.create_table(
        "disabled_users",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
