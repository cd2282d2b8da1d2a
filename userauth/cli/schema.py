"""`userauth db …`: show or upgrade the database schema (userauth/migrations), prune it."""

from __future__ import annotations

import click
from sqlalchemy import create_engine

from userauth import migrations
from userauth.cli.columns import columns
from userauth.cli.opening import database_url, is_empty, open_auth


@click.group()
def db() -> None:
    """Show or upgrade the database schema (Alembic revisions shipped with userauth); prune it."""


@db.command()
def upgrade() -> None:
    """Bring the database to the current schema, keeping every row."""
    url = database_url(read_only=False)
    before = _revision_of(url)
    try:
        migrations.upgrade(url)
    except migrations.MigrationError as error:
        raise click.ClickException(str(error)) from None
    after = _revision_of(url)
    if before == after:
        click.echo(f"The database is already at revision {after}.")
    else:
        click.echo(f"Upgraded the database from revision {before or 'none'} to {after}.")


@db.command()
def current() -> None:
    """Print the database's schema revision and whether it is the current one."""
    url = database_url(read_only=True)
    revision, head = _revision_of(url), migrations.head_revision()
    if revision == head:
        click.echo(f"{revision} (current)")
    elif revision is None and is_empty(url):
        click.echo(f"none (empty database: `userauth db upgrade` creates it at {head})")
    else:
        click.echo(f"{revision or 'none'} (behind {head}: run `userauth db upgrade`)")


@db.command()
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Delete, once, what the janitor deletes: expired sessions and secrets, abandoned mail,
    audit events past USERAUTH_AUDIT_RETENTION_DAYS; print how many rows of each kind."""
    auth = open_auth(ctx)
    pruned = auth.janitor.run_once()
    if pruned is None:
        raise click.ClickException(
            "another janitor holds the lease (a server's, or another `userauth db prune`): "
            "nothing was removed; try again once it is done"
        )
    rows = [("kind", "removed"), *((kind, str(count)) for kind, count in pruned.items())]
    for line in columns(rows):
        click.echo(line)


def _revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()
