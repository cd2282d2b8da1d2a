"""`userauth user …`: create, invite, list, show, disable, enable and delete accounts."""

from __future__ import annotations

import sys

import click

from userauth.admin import UserDetails
from userauth.cli.errors import usage_errors
from userauth.cli.opening import open_admin, open_auth
from userauth.errors import EmailTakenError, InvalidEmailError, PasswordPolicyError
from userauth.mail import SmtpMailer


@click.group()
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
    admin = open_admin(ctx)
    if password is None:
        password = _read_password()
    with usage_errors():
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
    auth = open_auth(ctx)
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
    result = open_admin(ctx, read_only=True).list_users(
        search=search, page=page, per_page=per_page
    )
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
    with usage_errors():
        details = open_admin(ctx, read_only=True).show_user(email)
    click.echo(_describe(details))


@user.command("disable")
@click.argument("email")
@click.pass_context
def disable_user(ctx: click.Context, email: str) -> None:
    """Disable an account: it cannot log in, and every session of it ends."""
    with usage_errors():
        ended = open_admin(ctx).disable_user(email)
    click.echo(f"Disabled {email}; ended {ended} session(s).")


@user.command("enable")
@click.argument("email")
@click.pass_context
def enable_user(ctx: click.Context, email: str) -> None:
    """Let a disabled account log in again."""
    with usage_errors():
        was_disabled = open_admin(ctx).enable_user(email)
    click.echo(f"Enabled {email}." if was_disabled else f"{email} was not disabled.")


@user.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_user(ctx: click.Context, email: str, yes: bool) -> None:
    """Delete an account with its sessions and reset token (audit events stay)."""
    admin = open_admin(ctx)
    with usage_errors():
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
    with usage_errors():
        ended = open_admin(ctx).revoke_sessions(email)
    click.echo(f"Ended {ended} session(s) of {email}.")


@user.command("reset-factors")
@click.argument("email")
@click.pass_context
def reset_factors(ctx: click.Context, email: str) -> None:
    """Remove an account's second factors (TOTP, recovery codes); its sessions end."""
    with usage_errors():
        had = open_admin(ctx).reset_factors(email)
    if had:
        click.echo(f"Removed the second factors of {email}; its sessions ended.")
    else:
        click.echo(f"{email} had no second factor; its sessions ended.")


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
