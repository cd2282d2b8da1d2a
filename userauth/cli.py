"""The `userauth` console script: serve the app, migrate its database, administer accounts."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from userauth import emails, mail_failures, migrations, secret_box
from userauth.admin import Admin, UserDetails
from userauth.allocator import configure_granian_allocator
from userauth.auth import Auth
from userauth.db import DB
from userauth.errors import (
    AuthError,
    EmailTakenError,
    InvalidEmailError,
    PasswordPolicyError,
    UnknownEmailError,
    UnreadableSecretError,
)
from userauth.mail import SmtpMailer, test_message
from userauth.metrics_directory import prepare_multiprocess_metrics
from userauth.settings import Settings, SettingsError, shown_database_url


class _OneLineErrors(click.Group):
    """A group whose usage errors print as one line, `Error: ...`, still with exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            # Without a context, click prints the message alone, not the usage text too.
            error.ctx = None
            raise
        except OperationalError as error:
            raise click.ClickException(f"cannot reach the database: {_reason(error)}") from None


def _reason(error: OperationalError) -> str:
    """Return the driver's first line about a failed connection (it holds no password)."""
    return _first_line(str(error.orig))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0]


def _load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="userauth")
def main() -> None:
    """Run and administer userauth.

    Settings come from environment variables, over those of the file USERAUTH_CONFIG names
    (else ./.env); see the README.
    """


@main.command()
@click.option(
    "--host",
    help="Address to bind (default: USERAUTH_HOST; unset, development binds 127.0.0.1 and "
    "production refuses to start).",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default: USERAUTH_PORT or 5000)."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option("--threads", type=click.IntRange(1, 256), help="Threads per worker (default: 64).")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve userauth under granian; SIGTERM stops it gracefully.

    Refuses to start on a database behind the current schema unless USERAUTH_AUTO_MIGRATE is
    true, in which case it upgrades it first.
    """
    # First of all: prometheus_client, which the server's module imports, decides at import
    # whether values go to files, and a forked worker inherits that decision; the settings,
    # read next, pass the directory to every worker. granian's allocator, likewise, reads
    # its options once, before the fork.
    prepare_multiprocess_metrics()
    configure_granian_allocator()
    from userauth.server import CannotStartError, UnsafeSettingsError, start

    settings = _load_settings()
    if settings.settings_file is not None:
        # As every other command: which file the settings came from, before anything fails.
        click.echo(f"settings file: {settings.settings_file}", err=True)
    server = settings.server
    settings = settings.with_sections(
        replace(
            server,
            host=server.host if host is None else host,
            port=server.port if port is None else port,
            workers=server.workers if workers is None else workers,
            threads=server.threads if threads is None else threads,
        )
    )
    try:
        start(settings)
    except UnsafeSettingsError as error:
        click.echo(f"userauth cannot start:\n{error}", err=True)
        raise SystemExit(2) from None
    except CannotStartError as error:
        raise click.ClickException(str(error)) from None


# Database schema.


@main.group()
def db() -> None:
    """Show or upgrade the database schema (Alembic revisions shipped with userauth); prune it."""


@db.command()
def upgrade() -> None:
    """Bring the database to the current schema, keeping every row."""
    url = _database_url(read_only=False)
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
    url = _database_url(read_only=True)
    revision, head = _revision_of(url), migrations.head_revision()
    if revision == head:
        click.echo(f"{revision} (current)")
    elif revision is None and _is_empty(url):
        click.echo(f"none (empty database: `userauth db upgrade` creates it at {head})")
    else:
        click.echo(f"{revision or 'none'} (behind {head}: run `userauth db upgrade`)")


@db.command()
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Delete, once, what the janitor deletes: expired sessions and secrets, abandoned mail,
    audit events past USERAUTH_AUDIT_RETENTION_DAYS; print how many rows of each kind."""
    auth = _open_auth(ctx)
    pruned = auth.janitor.run_once()
    if pruned is None:
        raise click.ClickException(
            "another janitor holds the lease (a server's, or another `userauth db prune`): "
            "nothing was removed; try again once it is done"
        )
    rows = [("kind", "removed"), *((kind, str(count)) for kind, count in pruned.items())]
    for line in _columns(rows):
        click.echo(line)


def _revision_of(url: str) -> str | None:
    engine = create_engine(url)
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


def _is_empty(url: str) -> bool:
    engine = create_engine(url)
    try:
        return not inspect(engine).get_table_names()
    finally:
        engine.dispose()


# Accounts.


@main.group()
def user() -> None:
    """Create, list, show, disable, enable and delete accounts; end their sessions."""


@user.command("create")
@click.argument("email")
@click.option(
    "--password",
    help="The password (visible to other local users: prefer the prompt, or one line on stdin).",
)
@click.pass_context
def create_user(ctx: click.Context, email: str, password: str | None) -> None:
    """Create an account, under the same rules as a sign-up."""
    admin = _admin(ctx)
    if password is None:
        password = _read_password()
    with _usage_errors():
        try:
            created = admin.create_user(email, password)
        except PasswordPolicyError as error:
            raise click.BadParameter(str(error), param_hint="'--password'") from None
    click.echo(f"Created user {created.id}: {created.email}")


@user.command("invite")
@click.argument("email")
@click.pass_context
def invite_user(ctx: click.Context, email: str) -> None:
    """Invite an address to sign up: a link valid USERAUTH_INVITATION_DAYS (7), mailed when
    USERAUTH_SMTP_HOST is set, else printed for you to hand over."""
    auth = _open_auth(ctx)
    mailer = SmtpMailer(auth.settings) if auth.settings.mail.smtp_host else None
    try:
        link = auth.invitations.invite(email, mailer)
    except (EmailTakenError, InvalidEmailError) as error:
        raise click.BadParameter(str(error), param_hint="'EMAIL'") from None
    if mailer is not None:
        click.echo(f"Invited {email}: the link is on its way.")
    else:
        click.echo(f"Invited {email} (no mail server set): send them this link:\n{link}")


@user.command("list")
@click.option("--search", metavar="TEXT", help="Only emails containing TEXT (any case).")
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--per-page", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.pass_context
def list_users(ctx: click.Context, search: str | None, page: int, per_page: int) -> None:
    """List accounts by id, a page at a time."""
    result = _admin(ctx, read_only=True).list_users(search=search, page=page, per_page=per_page)
    if page > result.pages:
        raise click.BadParameter(
            f"page {page} is past the last page, {result.pages}", param_hint="'--page'"
        )
    for summary in result.users:
        status = "disabled" if summary.disabled_at is not None else "enabled"
        click.echo(f"{summary.id:>8}  {status:<8}  {summary.email}")
    click.echo(f"page {result.page} of {result.pages} ({result.total} user(s))")


@user.command("show")
@click.argument("email")
@click.pass_context
def show_user(ctx: click.Context, email: str) -> None:
    """Show one account: status, live sessions, pending reset."""
    with _usage_errors():
        details = _admin(ctx, read_only=True).show_user(email)
    click.echo(_describe(details))


@user.command("disable")
@click.argument("email")
@click.pass_context
def disable_user(ctx: click.Context, email: str) -> None:
    """Disable an account: it cannot log in, and every session of it ends."""
    with _usage_errors():
        ended = _admin(ctx).disable_user(email)
    click.echo(f"Disabled {email}; ended {ended} session(s).")


@user.command("enable")
@click.argument("email")
@click.pass_context
def enable_user(ctx: click.Context, email: str) -> None:
    """Let a disabled account log in again."""
    with _usage_errors():
        was_disabled = _admin(ctx).enable_user(email)
    click.echo(f"Enabled {email}." if was_disabled else f"{email} was not disabled.")


@user.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_user(ctx: click.Context, email: str, yes: bool) -> None:
    """Delete an account with its sessions and reset token (audit events stay)."""
    admin = _admin(ctx)
    with _usage_errors():
        admin.show_user(email)
        if not yes:
            click.confirm(f"Delete {email} with its sessions and reset token?", abort=True)
        admin.delete_user(email)
    click.echo(f"Deleted {email}.")


@user.command("revoke-sessions")
@click.argument("email")
@click.pass_context
def revoke_sessions(ctx: click.Context, email: str) -> None:
    """End every session of an account (it stays enabled)."""
    with _usage_errors():
        ended = _admin(ctx).revoke_sessions(email)
    click.echo(f"Ended {ended} session(s) of {email}.")


@user.command("reset-factors")
@click.argument("email")
@click.pass_context
def reset_factors(ctx: click.Context, email: str) -> None:
    """Remove an account's second factors (TOTP, recovery codes); its sessions end."""
    with _usage_errors():
        had = _admin(ctx).reset_factors(email)
    if had:
        click.echo(f"Removed the second factors of {email}; its sessions ended.")
    else:
        click.echo(f"{email} had no second factor; its sessions ended.")


# Encryption keys of readable secrets (userauth/secret_box.py).


@main.group("keys")
def keys_group() -> None:
    """Make encryption keys, and move every readable secret to the first key."""


@keys_group.command("generate")
def generate_key() -> None:
    """Print a new key for USERAUTH_ENCRYPTION_KEYS."""
    click.echo(secret_box.new_key())


@keys_group.command("reencrypt")
@click.pass_context
def reencrypt(ctx: click.Context) -> None:
    """Encrypt every readable secret again with the first of USERAUTH_ENCRYPTION_KEYS."""
    try:
        moved = _admin(ctx).reencrypt_secrets()
    except UnreadableSecretError as error:
        raise click.ClickException(
            f"{error}: put every key still in use in USERAUTH_ENCRYPTION_KEYS"
        ) from None
    click.echo(f"Re-encrypted {moved} secret(s) with the first key.")


# The OpenID Connect provider's clients and signing keys (userauth/oidc/commands.py).


def _register_oidc_commands() -> None:
    from userauth.oidc import commands

    main.add_command(commands.client_commands(_open_auth))
    keys_group.add_command(commands.rotate_command(_open_auth))


# Outgoing mail.


@main.group("mail")
def mail_group() -> None:
    """Check the SMTP settings by sending mail."""


@mail_group.command("test")
@click.argument("address")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10,
    show_default=True,
    help="Seconds to wait for each answer of the mail server.",
)
def test_mail(address: str, timeout: float) -> None:
    """Send a test mail to ADDRESS; say how the SMTP conversation ended, and the fix."""
    settings = _load_settings()
    if settings.mail.smtp_host is None:
        raise click.UsageError(
            "USERAUTH_SMTP_HOST is not set: name the SMTP server that sends userauth's mail"
        )
    with _usage_errors("'ADDRESS'"):
        recipient = emails.normalize(address)
    mail = settings.mail
    server = f"{mail.smtp_host}:{mail.smtp_port} (USERAUTH_SMTP_TLS={mail.smtp_tls})"
    click.echo(f"mail server: {server}", err=True)
    subject, body = test_message(settings)
    try:
        SmtpMailer(settings, timeout=timeout).send(recipient, subject, body)
    except Exception as error:
        failure = mail_failures.diagnose(error, settings)
        if failure is None:
            raise
        raise click.ClickException(f"no mail sent: {failure.sentence}") from None
    click.echo(
        f"Sent a test mail to {recipient}: {mail.smtp_host}:{mail.smtp_port} accepted "
        "it (if it does not arrive, look in the mail server's log and the spam folder)."
    )


# Audit trail.


@main.group()
def audit() -> None:
    """Read the audit trail."""


@audit.command("list")
@click.option("--email", help="Only the events of this account.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.pass_context
def list_audit_events(ctx: click.Context, email: str | None, limit: int) -> None:
    """List audit events, newest first: time, event, email, address, user agent."""
    with _usage_errors("'--email'"):
        entries = _admin(ctx, read_only=True).audit_events(email=email, limit=limit)
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
    for line in _columns(rows):
        click.echo(line)


# Helpers.


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Lay rows out as columns, each as wide as its widest cell (the last one unpadded)."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    padded = [
        [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)] for row in rows
    ]
    return ["  ".join([*cells, row[-1]]) for cells, row in zip(padded, rows, strict=True)]


def _database_url(*, read_only: bool) -> str:
    """Return the configured database's URL, after saying on stderr which database it is.

    Raises:
        click.ClickException: a read-only command meets a missing SQLite file, which it
            never creates.
    """
    settings = _load_settings()
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


def _admin(ctx: click.Context, *, read_only: bool = False) -> Admin:
    """Administer the configured database (`_open_auth`)."""
    return Admin(_open_auth(ctx, read_only=read_only))


def _open_auth(ctx: click.Context, *, read_only: bool = False) -> Auth:
    """Open the configured database, refusing one behind the current schema.

    A read-only command also refuses an empty database rather than create the schema.
    """
    url = _database_url(read_only=read_only)
    if read_only and _is_empty(url):
        raise click.ClickException(
            "the database has no userauth tables: nothing to read (`userauth db upgrade` "
            "creates them)"
        )
    settings = _load_settings()
    try:
        migrations.ensure_current(settings.database.url, auto_migrate=False)
    except migrations.MigrationError as error:
        raise click.ClickException(str(error)) from None
    database = DB(settings.database.url, echo=settings.database.sql_echo)
    ctx.call_on_close(database.close)
    return Auth(database, settings)


@contextmanager
def _usage_errors(param_hint: str = "'EMAIL'") -> Iterator[None]:
    """Turn an unknown or unusable email into a usage error (one line, exit code 2)."""
    try:
        yield
    except UnknownEmailError as error:
        raise click.BadParameter(
            f"no account has the email {error.email!r}", param_hint=param_hint
        ) from None
    except AuthError as error:
        raise click.BadParameter(str(error), param_hint=param_hint) from None


def _read_password() -> str:
    """Prompt for a password on a terminal; otherwise read one line from stdin."""
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.BadParameter("no password on stdin", param_hint="'--password'")
    return line


def _describe(details: UserDetails) -> str:
    status = (
        "enabled"
        if details.disabled_at is None
        else f"disabled since {details.disabled_at.isoformat()}"
    )
    return "\n".join(
        [
            f"id: {details.id}",
            f"email: {details.email}",
            f"status: {status}",
            f"live sessions: {details.live_sessions}",
            f"reset token: {'pending' if details.reset_pending else 'none'}",
        ]
    )


_register_oidc_commands()
