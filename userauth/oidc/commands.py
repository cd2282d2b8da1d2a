"""`userauth client …` and `userauth keys rotate`: the OpenID Connect provider's admin commands.

userauth/cli/__init__.py registers them with its way of opening the configured database
(`open_auth`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from userauth.auth import Auth
from userauth.oidc.provider import ClientError

if TYPE_CHECKING:
    from userauth.oidc.clients import OidcClient

OpenAuth = Callable[..., Auth]


def client_commands(open_auth: OpenAuth) -> click.Group:
    """Return the `client` group: add, list, show, rotate-secret, remove."""

    @click.group("client")
    def client_group() -> None:
        """Register OpenID Connect relying parties (apps that log in through userauth)."""

    @client_group.command("add")
    @click.argument("name")
    @click.option(
        "--redirect-uri",
        "redirect_uris",
        multiple=True,
        required=True,
        help="A redirect URI, matched exactly (repeat for several).",
    )
    @click.option(
        "--public",
        is_flag=True,
        help="A public client (no secret: a native or browser app); PKCE is required.",
    )
    @click.option(
        "--post-logout-redirect-uri",
        "logout_uris",
        multiple=True,
        help="Where RP-initiated logout may send the browser back (repeatable).",
    )
    @click.option("--backchannel-logout-uri", help="Where logout tokens are posted.")
    @click.option("--first-party", is_flag=True, help="Skip the consent page for this client.")
    @click.option(
        "--id-token-alg",
        type=click.Choice(["RS256", "ES256"]),
        default="RS256",
        show_default=True,
        help="How the client's ID tokens are signed.",
    )
    @click.pass_context
    def add(
        ctx: click.Context,
        name: str,
        redirect_uris: tuple[str, ...],
        public: bool,
        logout_uris: tuple[str, ...],
        backchannel_logout_uri: str | None,
        first_party: bool,
        id_token_alg: str,
    ) -> None:
        """Register a client; print its id and (confidential) its secret, shown only now."""
        try:
            added = open_auth(ctx).oidc.clients.add(
                name,
                redirect_uris,
                public=public,
                post_logout_redirect_uris=logout_uris,
                backchannel_logout_uri=backchannel_logout_uri,
                first_party=first_party,
                id_token_alg=id_token_alg,
            )
        except ClientError as error:
            raise click.BadParameter(str(error), param_hint="'--redirect-uri'") from None
        click.echo(f"client_id: {added.client_id}")
        if added.client_secret is not None:
            click.echo(f"client_secret: {added.client_secret}")
            click.echo("The secret is shown only now: userauth keeps only its digest.", err=True)

    @client_group.command("list")
    @click.pass_context
    def list_clients(ctx: click.Context) -> None:
        """List the clients: id, kind, name."""
        for client in open_auth(ctx, read_only=True).oidc.clients.list():
            kind = "public" if client.is_public else "confidential"
            click.echo(f"{client.client_id}  {kind:<12}  {client.stored.name}")

    @client_group.command("show")
    @click.argument("client_id")
    @click.pass_context
    def show(ctx: click.Context, client_id: str) -> None:
        """Show one client's registration (never its secret)."""
        client = open_auth(ctx, read_only=True).oidc.clients.find(client_id)
        if client is None:
            raise click.BadParameter(
                f"no client has the id {client_id!r}", param_hint="'CLIENT_ID'"
            )
        click.echo(_describe(client))

    @client_group.command("rotate-secret")
    @click.argument("client_id")
    @click.pass_context
    def rotate_secret(ctx: click.Context, client_id: str) -> None:
        """Give a confidential client a new secret (the old one stops working at once)."""
        try:
            secret = open_auth(ctx).oidc.clients.rotate_secret(client_id)
        except ClientError as error:
            raise click.BadParameter(str(error), param_hint="'CLIENT_ID'") from None
        click.echo(f"client_secret: {secret}")

    @client_group.command("remove")
    @click.argument("client_id")
    @click.pass_context
    def remove(ctx: click.Context, client_id: str) -> None:
        """Remove a client: its codes, tokens and consents end with it."""
        try:
            open_auth(ctx).oidc.clients.remove(client_id)
        except ClientError as error:
            raise click.BadParameter(str(error), param_hint="'CLIENT_ID'") from None
        click.echo(f"Removed client {client_id}; its tokens no longer work.")

    return client_group


def rotate_command(open_auth: OpenAuth) -> click.Command:
    """Return `keys rotate`: new signing keys, published before they sign."""

    @click.command("rotate")
    @click.option(
        "--publish-for",
        type=click.IntRange(min=0),
        default=3600,
        show_default=True,
        metavar="SECONDS",
        help="How long the new keys are published before they sign (JWKS caches).",
    )
    @click.pass_context
    def rotate(ctx: click.Context, publish_for: int) -> None:
        """Make new RS256 and ES256 signing keys; keep the old ones until their tokens expire."""
        kids = open_auth(ctx).oidc.keys.rotate(timedelta(seconds=publish_for))
        click.echo(f"New signing keys {', '.join(kids)}: they sign in {publish_for} s.")

    return rotate


def _describe(client: OidcClient) -> str:
    stored = client.stored
    return "\n".join(
        [
            f"client_id: {stored.client_id}",
            f"name: {stored.name}",
            f"type: {'public' if client.is_public else 'confidential'}",
            f"first party: {'yes' if stored.first_party else 'no'}",
            f"ID token algorithm: {stored.id_token_signed_response_alg}",
            *(f"redirect uri: {uri}" for uri in client.redirect_uris),
            *(
                f"post-logout redirect uri: {uri}"
                for uri in client.client_metadata["post_logout_redirect_uris"]
            ),
            f"back-channel logout uri: {stored.backchannel_logout_uri or 'none'}",
            f"created: {stored.created_at.isoformat()}",
        ]
    )
