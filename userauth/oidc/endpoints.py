"""Authlib's token endpoints, filled in: revocation (RFC 7009), introspection (RFC 7662),
userinfo (OpenID Connect Core 5.3) and the bearer token check they share.

Access tokens are opaque and stored as digests; introspection answers from the store, so a
revoked token is inactive at once (docs: "Why opaque access tokens").
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfo, UserInfoEndpoint

from userauth.oidc.clients import OidcClient
from userauth.oidc.grants import IssuedToken, Issuer, user_info
from userauth.oidc.provider import EndUser, Provider


def find_token(provider: Provider, token: str, hint: str | None) -> IssuedToken | None:
    """Return the issuance of an access or refresh token, trying the hinted kind first."""
    kinds = ["refresh", "access"] if hint == "refresh_token" else ["access", "refresh"]
    for kind in kinds:
        held = provider.find_token(kind, token)
        if held is not None:
            return IssuedToken(held, kind, provider)
    return None


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: a client revokes its own token; an unknown token is not an error (2.2)."""

    # Public clients revoke with their client_id alone (RFC 7009 2.1).
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def __init__(self, server: Any, provider: Provider) -> None:
        super().__init__(server)
        self.provider = provider

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(self.provider, token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        if token.kind == "refresh":
            # RFC 7009 2.1: revoking a refresh token SHOULD revoke the grant's access tokens.
            self.provider.revoke_family(token.stored.family)
        else:
            self.provider.revoke(token.stored)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: confidential clients only (2.1: the endpoint MUST require authorization)."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def __init__(self, server: Any, provider: Provider, issuer: Issuer) -> None:
        super().__init__(server)
        self.provider = provider
        self.issuer = issuer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_token(self.provider, token_string, token_type_hint)

    def check_permission(
        self, token: IssuedToken, client: OidcClient, request: OAuth2Request
    ) -> bool:
        # A client learns only about its own tokens (RFC 7662 4: no token scanning).
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        stored = token.stored
        expires = stored.expires_at if token.kind == "access" else stored.refresh_expires_at
        return {
            "active": True,
            "client_id": stored.client_id,
            "token_type": "Bearer" if token.kind == "access" else "refresh_token",
            "scope": stored.scope,
            "sub": token.held.subject or self.provider.subject(stored.user_id),
            "aud": stored.client_id,
            "iss": self.issuer(),
            "exp": int(expires.timestamp()) if expires is not None else None,
            "iat": int(stored.issued_at.timestamp()),
            "auth_time": int(stored.auth_time.timestamp()),
            "acr": stored.acr,
        }


class AccessTokens(BearerTokenValidator):  # type: ignore[misc]
    """The bearer access token check (RFC 6750) behind userinfo."""

    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> IssuedToken | None:
        held = self.provider.find_token("access", token_string)
        return None if held is None else IssuedToken(held, "access", self.provider)


class UserInfoClaims(UserInfoEndpoint):  # type: ignore[misc]
    """The userinfo endpoint: the claims of the access token's scope, as JSON."""

    def __init__(self, server: Any, resource_protector: Any, provider: Provider) -> None:
        super().__init__(server=server, resource_protector=resource_protector)
        self.provider = provider

    def generate_user_info(self, user: EndUser, scope: str) -> UserInfo:
        return user_info(self.provider, user, scope)
