"""Relying parties: register, list, show, rotate a secret, remove; and Authlib's view of one.

A confidential client's secret is shown once and stored as its SHA-256 digest (it is 256
random bits, so a fast hash suffices: OWASP Password Storage cheat sheet, "random secrets");
a public client (a native or browser app) has none and must use PKCE.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list

from userauth import tokens
from userauth.db import DB
from userauth.db.oidc import StoredClient
from userauth.oidc.provider import SCOPES, ClientError

GRANT_TYPES = ("authorization_code", "refresh_token")
# RS256 is what every relying party supports (OpenID Connect Core 15.1); ES256 on request.
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class NewClient:
    """A client just registered: its id, and its secret (None for a public client), shown
    once."""

    client_id: str
    client_secret: str | None = field(repr=False)


class OidcClient(ClientMixin):  # type: ignore[misc]
    """A registered client as Authlib's grants and endpoints ask about it."""

    def __init__(self, stored: StoredClient) -> None:
        self.stored = stored
        self.client_id = stored.client_id
        self.redirect_uris: list[str] = json.loads(stored.redirect_uris)
        self.client_metadata: dict[str, Any] = {
            "post_logout_redirect_uris": json.loads(stored.post_logout_redirect_uris),
            "backchannel_logout_uri": stored.backchannel_logout_uri,
        }
        self.id_token_signed_response_alg = stored.id_token_signed_response_alg

    @property
    def is_public(self) -> bool:
        return self.stored.secret_digest is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # None: every authorization request must name its redirect URI (OpenID Connect Core
        # 3.1.2.1 makes it REQUIRED), matched exactly below.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return str(list_to_scope([name for name in scope_to_list(scope) if name in SCOPES]))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, no prefix or wildcard (RFC 9700 2.1, 4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.stored.secret_digest is None:
            return False
        return hmac.compare_digest(tokens.digest(client_secret), self.stored.secret_digest)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        # Authorization code only: no implicit or hybrid flow (RFC 9700 2.1.2).
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class Clients:
    """Register and administer relying parties."""

    def __init__(self, db: DB, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def add(
        self,
        name: str,
        redirect_uris: Sequence[str],
        *,
        public: bool = False,
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        first_party: bool = False,
        id_token_alg: str = "RS256",  # noqa: S107 - an algorithm name, not a secret
    ) -> NewClient:
        """Register a client; return its id and (confidential only) its secret.

        Raises:
            ClientError: no redirect URI, or a URI that is not absolute http(s) without a
                fragment (RFC 6749 3.1.2).
        """
        if not redirect_uris:
            raise ClientError("a client needs at least one --redirect-uri")
        if id_token_alg not in ID_TOKEN_ALGORITHMS:
            raise ClientError(f"ID tokens are signed with one of {', '.join(ID_TOKEN_ALGORITHMS)}")
        for uri in [*redirect_uris, *post_logout_redirect_uris, backchannel_logout_uri]:
            if uri is not None:
                _check_uri(uri)
        # Hex, not base64url: an id that began with "-" would read as an option on the CLI.
        client_id = secrets.token_hex(16)
        secret = None if public else secrets.token_urlsafe(32)
        self._db.add_client(
            {
                "client_id": client_id,
                "name": name,
                "secret_digest": None if secret is None else tokens.digest(secret),
                "redirect_uris": json.dumps(list(redirect_uris)),
                "post_logout_redirect_uris": json.dumps(list(post_logout_redirect_uris)),
                "backchannel_logout_uri": backchannel_logout_uri,
                "first_party": first_party,
                "id_token_signed_response_alg": id_token_alg,
                "created_at": self._clock(),
            }
        )
        return NewClient(client_id, secret)

    def find(self, client_id: str) -> OidcClient | None:
        """Return the client with this id, or None."""
        if not client_id or len(client_id) > 64:
            return None
        stored = self._db.client(client_id)
        return None if stored is None else OidcClient(stored)

    def list(self) -> list[OidcClient]:
        """Return every client, oldest first."""
        return [OidcClient(stored) for stored in self._db.clients()]

    def rotate_secret(self, client_id: str) -> str:
        """Give a confidential client a new secret (the old one stops working); return it.

        Raises:
            ClientError: no confidential client has this id.
        """
        secret = secrets.token_urlsafe(32)
        if not self._db.set_client_secret(client_id, tokens.digest(secret)):
            raise ClientError(f"no confidential client has the id {client_id!r}")
        return secret

    def remove(self, client_id: str) -> None:
        """Remove a client: its codes, tokens and consents die with it.

        Raises:
            ClientError: no client has this id.
        """
        if not self._db.remove_client(client_id):
            raise ClientError(f"no client has the id {client_id!r}")


def _check_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise ClientError(f"{uri!r} must be an absolute http(s) URI without a fragment")
