"""Email keys: users.email_key (unique) and audit_events.email_key replace lower(email).

The key is userauth.emails.lookup_key, computed in Python for every row: PostgreSQL's lower()
folds by its collation ("ΣΑΣ" gives "σασ", where Python gives "σας"), so the unique index
on lower(email) let one address become two accounts, one that could never log in. That
index goes: two rules of sameness would disagree (PostgreSQL's lower("İ") is "i", whose key
differs from "İ"'s) and one of them would refuse sign-ups the other allows.

Accounts whose emails share a key (e.g. "straße@…" and "STRASSE@…", which lower() kept
apart) cannot both stay: the upgrade stops before changing anything and names them with
their ids, as revision 0002 does for emails that differ in letter case; the operator keeps
one. No row is merged, renamed or disabled silently.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from userauth.emails import MAX_EMAIL_LENGTH, lookup_key
from userauth.migrations import DuplicateEmailsError, MigrationError

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# How many colliding keys (or over-long ones) the error message names before "and N more".
MAX_NAMED = 20
KEY_RULE = (
    "under the email key (Unicode compatibility caseless matching: ß is ss, a final sigma "
    "is a sigma, fullwidth letters are ASCII ones)"
)


def upgrade() -> None:
    # First, before any change, so a refused upgrade leaves the database as it was.
    keys = _keys_or_refuse()
    op.drop_index("uq_users_email_lower", table_name="users")
    op.add_column("users", sa.Column("email_key", sa.String(250), nullable=True))
    if keys:
        op.get_bind().execute(
            sa.text("UPDATE users SET email_key = :key WHERE id = :id"),
            [{"id": user_id, "key": key} for user_id, key in keys.items()],
        )
    # SQLite rebuilds the table for NOT NULL; the lower(email) index it could not copy is gone.
    with op.batch_alter_table("users") as batch:
        batch.alter_column("email_key", existing_type=sa.String(250), nullable=False)
    op.create_index("uq_users_email_key", "users", ["email_key"], unique=True)
    # Plain ADD COLUMN: Alembic's batch mode would rebuild the table (see 0003).
    op.execute(sa.text("ALTER TABLE audit_events ADD COLUMN email_key VARCHAR(250)"))
    _key_audit_events()


def downgrade() -> None:
    _refuse_lower_duplicates()
    op.execute(sa.text("ALTER TABLE audit_events DROP COLUMN email_key"))
    op.drop_index("uq_users_email_key", table_name="users")
    op.execute(sa.text("ALTER TABLE users DROP COLUMN email_key"))
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)


def _keys_or_refuse() -> dict[int, str]:
    """Return each user's key by id; stop when keys collide or one is over its column."""
    rows = op.get_bind().execute(sa.text("SELECT id, email FROM users ORDER BY id")).all()
    # The application's own function, so the keys are those it computes at this revision; a
    # later change to lookup_key needs a revision that computes them again.
    keys = {row.id: lookup_key(row.email) for row in rows}
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(keys[row.id], []).append(f"{row.email} (id {row.id})")
    colliding = [group for group in groups.values() if len(group) > 1]
    if colliding:
        raise DuplicateEmailsError(colliding, MAX_NAMED, rule=KEY_RULE)
    too_long = [
        f"{row.email} (id {row.id})" for row in rows if len(keys[row.id]) > MAX_EMAIL_LENGTH
    ]
    if too_long:
        named = ", ".join(too_long[:MAX_NAMED])
        more = f", and {len(too_long) - MAX_NAMED} more" if len(too_long) > MAX_NAMED else ""
        raise MigrationError(
            f"cannot key every email: {len(too_long)} email(s) are over {MAX_EMAIL_LENGTH} "
            f"characters once case-folded: {named}{more}. Shorten them in SQL, then run "
            "`userauth db upgrade` again."
        )
    return keys


def _key_audit_events() -> None:
    """Give each event that kept an email that email's key (once per distinct email)."""
    connection = op.get_bind()
    emails = connection.execute(
        sa.text("SELECT DISTINCT email FROM audit_events WHERE email IS NOT NULL")
    ).scalars()
    changes = [{"email": email, "key": lookup_key(email)} for email in emails]
    if changes:
        connection.execute(
            sa.text("UPDATE audit_events SET email_key = :key WHERE email = :email"), changes
        )


def _refuse_lower_duplicates() -> None:
    """Stop when two emails with distinct keys share lower(email), which 0004 indexes."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT lower(email) AS folded, email FROM users WHERE lower(email) IN ("
            " SELECT lower(email) FROM users GROUP BY lower(email) HAVING count(*) > 1"
            ") ORDER BY lower(email), id"
        )
    )
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.folded, []).append(row.email)
    if groups:
        raise DuplicateEmailsError(list(groups.values()), MAX_NAMED)
