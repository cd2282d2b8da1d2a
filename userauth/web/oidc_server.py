"""The app's Authlib AuthorizationServer: the provider's grants and endpoints, registered.

One per app, built on the provider's first request (web/oidc_context.py); its issuer is the
USERAUTH_OIDC_ISSUER setting, or in development the request's own origin.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import OAuth2Request
from flask import request

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

    def query_client(self, client_id: str) -> OidcClient | None:
        return self.provider.clients.find(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        save_token(self.provider, token, request, self.issuer())


def build_server(
    provider: Provider, settings: OidcSettings, end_session: EndSession
) -> ProviderServer:
    """Build an authorization server with the code and refresh grants and the endpoints."""
    server = ProviderServer(provider, settings)
    server.load_config(
        {
            "OAUTH2_REFRESH_TOKEN_GENERATOR": True,
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
