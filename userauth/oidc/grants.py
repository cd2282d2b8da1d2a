"""Authlib's grants, filled in with the provider's records: the code flow, PKCE, refresh.

Each class subclasses the documented extension point and implements the methods its
docstring names; the rules (single use, PKCE S256, rotation) are cited where enforced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo
from authlib.oidc.core.grants.util import is_openid_scope

from userauth.db import HeldToken
from userauth.db.oidc_tokens import StoredCode
from userauth.oidc.clients import OidcClient
from userauth.oidc.keys import SigningKey
from userauth.oidc.provider import EndUser, Provider, SpentGrantError

Issuer = Callable[[], str]


class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """A stored code as Authlib's grants read it."""

    def __init__(self, stored: StoredCode) -> None:
        self.stored = stored
        self.code_challenge = stored.code_challenge
        self.code_challenge_method = stored.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.stored.redirect_uri

    def get_scope(self) -> str:
        return self.stored.scope

    def get_nonce(self) -> str | None:
        return self.stored.nonce

    def get_auth_time(self) -> int:
        return int(self.stored.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.stored.acr

    def get_amr(self) -> list[str]:
        return self.stored.amr.split()


def user_info(provider: Provider, user: EndUser, scope: str) -> UserInfo:
    """Return the claims of the user for a scope: `sub`, and with `email` the email.

    `email_verified` is false: accounts do not verify their email yet (issue 26).
    """
    info = UserInfo(sub=user.subject or provider.subject(user.user_id))
    email = user.email or provider.email(user.user_id)
    if email is not None and "email" in scope.split():
        info["email"] = email
        info["email_verified"] = False
    return info


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant (RFC 6749 4.1): the only flow this provider serves."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    @property
    def provider(self) -> Provider:
        provider: Provider = self.server.provider
        return provider

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.provider.save_code(
            code,
            request.client.get_client_id(),
            request.user,
            {
                "redirect_uri": request.payload.redirect_uri,
                "scope": request.scope or "",
                "nonce": data.get("nonce"),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
            },
        )

    def query_authorization_code(self, code: str, client: OidcClient) -> IssuedCode | None:
        stored = self.provider.find_code(code, client.get_client_id())
        return None if stored is None else IssuedCode(stored)

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        # Nothing to do: the code was spent by save_token, in the transaction that stored
        # its tokens (a racing second use finds it spent there).
        return None

    def authenticate_user(self, authorization_code: IssuedCode) -> EndUser | None:
        user = EndUser.of_row(authorization_code.stored)
        email = self.provider.email(user.user_id)
        # Kept for the ID token's claims: one read of the account per exchange.
        return None if email is None else dataclasses.replace(user, email=email)


class IssuedToken:
    """A stored issuance as Authlib's endpoints read it (TokenMixin's methods), with the
    client and account its read joined."""

    def __init__(self, held: HeldToken, kind: str, provider: Provider) -> None:
        self.held = held
        self.stored = held.token
        self.kind = kind
        self.provider = provider
        self.scope = held.token.scope

    def check_client(self, client: OidcClient) -> bool:
        return self.stored.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.stored.scope

    def get_expires_in(self) -> int:
        return int((self.stored.expires_at - self.stored.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return not self.provider.is_live(self.stored, self.kind) and not self.is_revoked()

    def is_revoked(self) -> bool:
        return self.stored.revoked_at is not None

    def get_user(self) -> EndUser:
        """Return who the token speaks for, with the email (None: the account is disabled)
        and subject the read found."""
        user = EndUser.of_row(self.stored)
        return dataclasses.replace(user, email=self.held.email, subject=self.held.subject)

    def get_client(self) -> OidcClient:
        return OidcClient(self.held.client)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens, rotated on every use (RFC 9700 4.14.2).

    A refresh answers no new ID token (Authlib's grant issues none): OpenID Connect Core 12.2
    makes one optional ("MAY"), the relying party keeps the code exchange's, and signing one
    would cost each refresh about 1 ms (RS256) for claims that have not changed.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        provider: Provider = self.server.provider
        # Read once, with the client, when the client authenticated (web/oidc_server.py).
        held: HeldToken | None = self.server.held_refresh(refresh_token)
        if held is None:
            return None
        stored = held.token
        if stored.refresh_used_at is not None and stored.revoked_at is None:
            # Reuse: the token was stolen or replayed; kill the whole family (RFC 9700 4.14.2).
            provider.refresh_token_reused(stored)
            return None
        if not provider.is_live(stored, "refresh"):
            return None
        return IssuedToken(held, "refresh", provider)

    def authenticate_user(self, refresh_token: IssuedToken) -> EndUser | None:
        # The token's read joined its account: a disabled one has no email, and no refresh.
        user = refresh_token.get_user()
        return user if user.email is not None else None

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        # Nothing to do: save_token spent it in the transaction that stored its successor.
        return None


def save_token(
    provider: Provider, token: dict[str, Any], request: OAuth2Request, issuer: Issuer
) -> None:
    """Store what the token endpoint issues, spending the code or refresh token it came from
    (a refresh keeps its family's issuer: `issuer` is asked for a code's only).

    Raises:
        InvalidGrantError: the code or refresh token was spent by a racing request.
    """
    try:
        if isinstance(request.refresh_token, IssuedToken):
            provider.rotate(request.refresh_token.stored, token)
        else:
            provider.issue_from_code(request.authorization_code.stored, token, issuer())
    except SpentGrantError as error:
        raise InvalidGrantError(str(error)) from None


class Pkce(CodeChallenge):  # type: ignore[misc]
    """PKCE (RFC 7636) with S256 only; required of public clients (RFC 9700 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(
        self, grant: grants.AuthorizationCodeGrant, redirect_uri: str
    ) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            # "plain" would give the verifier to whoever reads the authorization request.
            raise InvalidRequestError("code_challenge_method must be S256")
        if grant.request.client.is_public and not data.get("code_challenge"):
            raise InvalidRequestError("public clients must send a PKCE code_challenge (S256)")
        super().validate_code_challenge(grant, redirect_uri)


class IdToken(OpenIDCode):  # type: ignore[misc]
    """The ID token of the code flow (OpenID Connect Core 3.1.3.6), signed RS256 or ES256."""

    def __init__(self, provider: Provider, issuer: Issuer) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider
        self.issuer = issuer

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.provider.nonce_was_used(request.payload.client_id, nonce)

    def get_client_algorithm(self, client: OidcClient) -> str:
        # The client's registered algorithm (OpenID Connect Registration 2), RS256 by default.
        return client.id_token_signed_response_alg

    def resolve_client_private_key(self, client: OidcClient) -> SigningKey:
        return self.provider.keys.signing_key(self.get_client_algorithm(client))

    def get_encode_header(self, client: OidcClient) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": str(key.kid), "typ": "JWT"}

    def get_client_claims(self, client: OidcClient) -> dict[str, Any]:
        now = int(self.provider.now().timestamp())
        lifetime = int(self.provider.settings.id_token_lifetime.total_seconds())
        return {
            "iss": self.issuer(),
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + lifetime,
        }

    def get_authorization_code_claims(self, authorization_code: IssuedCode) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        # The session's public id, never its secret: the `sid` a logout token names
        # (Back-Channel Logout 1.0 2.1, 2.4).
        claims["sid"] = authorization_code.stored.session_public_id
        return claims

    def generate_user_info(self, user: EndUser, scope: str) -> UserInfo:
        return user_info(self.provider, user, scope)


class Issuer9207(IssuerParameter):  # type: ignore[misc]
    """`iss` in every authorization response (RFC 9207 2), errors included."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer()


def requests_openid(scope: str | None) -> bool:
    """Tell whether a scope asks for OpenID Connect (has `openid`)."""
    return bool(scope) and bool(is_openid_scope(scope))
