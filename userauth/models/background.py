"""The tables of the service's background work: the mail outbox's jobs, and named leases."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from userauth.models.columns import metadata, moment

# A mail still to send: what to send to which email, never a token (issued when sent).
# Claimed by one worker at a time (claimed_until is its lease); deleted once sent or given
# up, postponed (due_at) after a failure.
mail_jobs_table = Table(
    "mail_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("email", String(250), nullable=False),
    Column("client_address", String(64), nullable=False, default=""),
    Column("user_agent", String(512), nullable=False, default=""),
    # The asker's Accept-Language (audit.Client caps it): the mail is written in it.
    Column("accept_language", String(256), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    # The account the mail concerns (None for a stranger's email) and what the mail needs.
    Column("user_id", Integer, nullable=True),
    Column("payload", Text, nullable=True),
    moment("due_at", index=True),
    moment("claimed_until", nullable=True),
    moment("created_at"),
)

# A named lease: which process holds it until when. The janitor's row ("janitor") lets one
# process per deployment prune at a time (userauth/janitor.py).
leases_table = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(128), nullable=False, default=""),
    moment("held_until"),
)
