"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) on Authlib's endpoint.

The `id_token_hint` must verify with one of the provider's own published keys, as RS256 or
ES256 only: a token with `alg=none`, or HS256 "signed" with a public key, is refused
(RFC 8725 3.1, 3.2). It names who asks; the web layer ends the session it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest

from userauth.oidc.keys import ALGORITHMS
from userauth.oidc.provider import Provider

EndSession = Callable[[EndSessionRequest], None]


class RpLogout(EndSessionEndpoint):  # type: ignore[misc]
    """The end-session endpoint: validates the request; `end` ends the browser's session."""

    def __init__(
        self, server: Any, provider: Provider, issuer: Callable[[], str], end: EndSession
    ) -> None:
        super().__init__(server)
        self.provider = provider
        self.issuer = issuer
        self.end = end

    def get_server_jwks(self) -> dict[str, Any]:
        return self.provider.keys.jwks()

    def get_algorithms(self) -> list[str]:
        # Never what the token's header says: only the algorithms of our keys.
        return list(ALGORITHMS)

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        validated: EndSessionRequest = super().validate_request(request)
        claims = validated.id_token_claims
        if claims is not None and claims.get("iss") != self.issuer():
            raise InvalidRequestError("the id_token_hint was not issued here")
        return validated

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        self.end(end_session_request)
