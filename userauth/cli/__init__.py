"""The `userauth` console script: serve the app, migrate its database, administer accounts.

Each command group is a module of this package; `main` names them all, with the OpenID
Connect provider's commands (userauth/oidc/commands.py).
"""

from __future__ import annotations

import click

from userauth.cli.accounts import user
from userauth.cli.audit import audit
from userauth.cli.errors import OneLineErrors
from userauth.cli.keys import keys_group
from userauth.cli.mail import mail_group
from userauth.cli.opening import open_auth
from userauth.cli.schema import db
from userauth.cli.serve import serve
from userauth.oidc import commands as oidc_commands

__all__ = ["main"]


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="userauth")
def main() -> None:
    """Run and administer userauth.

    Settings come from environment variables, over those of the file USERAUTH_CONFIG names
    (else ./.env); see the README.
    """


main.add_command(serve)
main.add_command(db)
main.add_command(user)
main.add_command(keys_group)
main.add_command(mail_group)
main.add_command(audit)
main.add_command(oidc_commands.client_commands(open_auth))
keys_group.add_command(oidc_commands.rotate_command(open_auth))
