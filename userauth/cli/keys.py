"""`userauth keys …`: encryption keys of readable secrets (userauth/secret_box.py).

The OpenID Connect provider's `keys rotate` joins this group (userauth/oidc/commands.py).
"""

from __future__ import annotations

import click

from userauth import secret_box
from userauth.cli.opening import open_admin
from userauth.errors import UnreadableSecretError


@click.group("keys")
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
        moved = open_admin(ctx).reencrypt_secrets()
    except UnreadableSecretError as error:
        raise click.ClickException(
            f"{error}: put every key still in use in USERAUTH_ENCRYPTION_KEYS"
        ) from None
    click.echo(f"Re-encrypted {moved} secret(s) with the first key.")
