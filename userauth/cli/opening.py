"""Open what a command works on: its settings, then the configured database behind an Auth.

Every command says on stderr which settings file and database it uses before it touches
them; a read-only command never creates a database or its schema.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from userauth import migrations
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.db import DB
from userauth.settings import Settings, SettingsError, shown_database_url


def load_settings() -> Settings:
    """Read the settings from the environment (and the settings file).

    Raises:
        click.UsageError: a setting is missing or malformed; the sentence names it.
    """
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def database_url(*, read_only: bool) -> str:
    """Return the configured database's URL, after saying on stderr which database it is.

    Raises:
        click.ClickException: a read-only command meets a missing SQLite file, which it
            never creates.
    """
    settings = load_settings()
    url = settings.database.url
    parsed = make_url(url)
    if settings.settings_file is not None:
        click.echo(f"settings file: {settings.settings_file}", err=True)
    click.echo(f"database: {shown_database_url(url)}", err=True)
    if read_only and parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if name not in ("", ":memory:") and not Path(name).is_file():
            raise click.ClickException(
                f"no database at {os.path.abspath(name)}: nothing to read (`userauth db upgrade` "
                "creates it; DATABASE_URL names another)"
            )
    return url


def open_admin(ctx: click.Context, *, read_only: bool = False) -> Admin:
    """Administer the configured database (`open_auth`)."""
    return Admin(open_auth(ctx, read_only=read_only))


def open_auth(ctx: click.Context, *, read_only: bool = False) -> Auth:
    """Open the configured database, refusing one behind the current schema.

    A read-only command also refuses an empty database rather than create the schema.
    """
    url = database_url(read_only=read_only)
    if read_only and is_empty(url):
        raise click.ClickException(
            "the database has no userauth tables: nothing to read (`userauth db upgrade` "
            "creates them)"
        )
    settings = load_settings()
    try:
        migrations.ensure_current(settings.database.url, auto_migrate=False)
    except migrations.MigrationError as error:
        raise click.ClickException(str(error)) from None
    database = DB(settings.database.url, echo=settings.database.sql_echo)
    ctx.call_on_close(database.close)
    return Auth(database, settings)


def is_empty(url: str) -> bool:
    """Tell whether the database at `url` has no table at all (not even Alembic's)."""
    engine = create_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()
