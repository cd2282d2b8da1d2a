"""`userauth audit list`: read the audit trail."""

from __future__ import annotations

import click

from userauth.cli.columns import columns
from userauth.cli.errors import usage_errors
from userauth.cli.opening import open_admin


@click.group()
def audit() -> None:
    """Read the audit trail."""


@audit.command("list")
@click.option("--email", help="Only the events of this account.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def list_audit_events(ctx: click.Context, email: str | None, limit: int) -> None:
    """List audit events, newest first: time, event, email, address, user agent."""
    with usage_errors("'--email'"):
        entries = open_admin(ctx, read_only=True).audit_events(email=email, limit=limit)
    rows = [("time", "event", "email", "address", "user agent")]
    rows += [
        (
            entry.created_at.isoformat(),
            entry.event,
            entry.email or "-",
            entry.client_address or "-",
            entry.user_agent or "-",
        )
        for entry in entries
    ]
    for line in columns(rows):
        click.echo(line)
