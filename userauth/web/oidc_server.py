"""The app's Authlib AuthorizationServer: the provider's grants and endpoints, registered.

One per app, built on the provider's first request (web/oidc_context.py); its issuer is the
USERAUTH_OIDC_ISSUER setting, or in development the request's own origin.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request
from flask import g, request

from userauth.db import HeldToken
from userauth.oidc.clients import OidcClient
from userauth.oidc.endpoints import AccessTokens, Introspection, Revocation, UserInfoClaims
from userauth.oidc.grants import CodeGrant, IdToken, Issuer9207, Pkce, RefreshGrant, save_token
from userauth.oidc.logout import EndSession, RpLogout
from userauth.oidc.provider import SCOPES, Provider
from userauth.settings import OidcSettings


class ProviderServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's Flask authorization server over the provider's records."""

    def __init__(self, provider: Provider, settings: OidcSettings) -> None:
        super().__init__()
        self.provider = provider
        self.oidc_settings = settings

    def issuer(self) -> str:
        """Return the issuer: the setting, else (development) this request's origin."""
        if self.oidc_settings.issuer is not None:
            return self.oidc_settings.issuer
        return request.url_root.rstrip("/")

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> OidcClient:
        """Authenticate the client (Authlib's methods), refusing first a Basic credential
        that is not base64 of UTF-8 (RFC 7617 2.1), which Authlib would fail on.

        Raises:
            InvalidClientError: 401 (RFC 6749 5.2: the client tried the Authorization header).
        """
        if not _basic_credential_decodes(request.headers.get("Authorization")):
            raise InvalidClientError(
                status_code=401, description="The Basic credentials are not base64 of UTF-8."
            )
        if endpoint == "token" and request.payload.grant_type == RefreshGrant.GRANT_TYPE:
            # Read the refresh token now, with its client: query_client needs no read of its own.
            self.held_refresh(request.form.get("refresh_token") or "")
        client: OidcClient = super().authenticate_client(request, methods, endpoint)
        return client

    def query_client(self, client_id: str) -> OidcClient | None:
        held = g.get("oidc_held_refresh")
        if held is not None and held[1] is not None and held[1].client.client_id == client_id:
            # The client row read this instant, joined to the refresh token: as current as a
            # read of its own (a rotated secret or a removed client takes effect at once).
            return OidcClient(held[1].client)
        return self.provider.clients.find(client_id)

    def held_refresh(self, refresh_token: str) -> HeldToken | None:
        """Return the issuance of a refresh token with its client and account (None: no
        such token, or its session has ended), read once per request."""
        held = g.get("oidc_held_refresh")
        if held is None or held[0] != refresh_token:
            held = (refresh_token, self.provider.find_token("refresh", refresh_token))
            g.oidc_held_refresh = held
        found: HeldToken | None = held[1]
        return found

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        save_token(self.provider, token, request, self.issuer)


def _basic_credential_decodes(header: str | None) -> bool:
    """Tell whether an Authorization header is anything but Basic, or Basic whose
    credentials are base64 (ASCII) of UTF-8 text."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(credentials.strip()).decode("utf-8")
    except ValueError:  # binascii.Error, non-ASCII characters, UnicodeDecodeError
        return False
    return True


def new_token(*args: Any, **kwargs: Any) -> str:
    """Return a new access or refresh token: 256 random bits, base64url (43 characters).

    Authlib's default draws each character with its own call to the system's random source
    (about 90 reads for a token pair); one read of 32 bytes carries as much entropy."""
    return secrets.token_urlsafe(32)


def build_server(
    provider: Provider, settings: OidcSettings, end_session: EndSession
) -> ProviderServer:
    """Build an authorization server with the code and refresh grants and the endpoints."""
    server = ProviderServer(provider, settings)
    server.load_config(
        {
            "OAUTH2_ACCESS_TOKEN_GENERATOR": new_token,
            "OAUTH2_REFRESH_TOKEN_GENERATOR": new_token,
            "OAUTH2_TOKEN_EXPIRES_IN": {
                grant: int(settings.access_token_lifetime.total_seconds())
                for grant in ("authorization_code", "refresh_token")
            },
            "OAUTH2_SCOPES_SUPPORTED": list(SCOPES),
        }
    )
    server.register_grant(CodeGrant, [Pkce(required=True), IdToken(provider, server.issuer)])
    server.register_grant(RefreshGrant)
    server.register_extension(Issuer9207(server.issuer))
    server.register_endpoint(Revocation(server, provider))
    server.register_endpoint(Introspection(server, provider, server.issuer))
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokens(provider))
    server.register_endpoint(UserInfoClaims(server, protector, provider))
    server.register_endpoint(RpLogout(server, provider, server.issuer, end_session))
    return server
