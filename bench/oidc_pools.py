"""The OpenID Connect provider's load (issue 27, item 7): clients, codes and tokens for wrk.

Everything is made through the provider's public surface, in this process: the clients
through the domain API (as `userauth client add` does), each code by `GET /oauth2/authorize`
with a seeded session's cookie (Flask's test client over the same app the server runs), and
each token by exchanging such a code at `POST /oauth2/token`. A code lives 60 s, so a pool of
codes is made just before the run that spends it; a refresh token is spent once, so each run
of the refresh scenario starts from tokens of its own.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from userauth.auth import Auth
from userauth.settings import Settings
from userauth.web import create_app

REDIRECT = "https://rp.bench.example.com/callback"
# The clients' scope: an ID token with the email claim, and a refresh token.
SCOPE = "openid email offline_access"
# Cheapest cost bcrypt allows: the pool's own process, never the server's.
POOL_BCRYPT_ROUNDS = 4


@dataclass(frozen=True)
class BenchClient:
    """A confidential client registered for the run, and the algorithm of its ID tokens."""

    alg: str
    client_id: str
    secret: str = field(repr=False)

    @property
    def basic(self) -> str:
        """The Authorization header value of client_secret_basic (RFC 6749 2.3.1)."""
        pair = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")


class Pools:
    """Makes codes and tokens for the run through the provider's own endpoints."""

    def __init__(self, env: Mapping[str, str], session_ids: Sequence[str]) -> None:
        settings = Settings.from_env({**env, "USERAUTH_BCRYPT_ROUNDS": str(POOL_BCRYPT_ROUNDS)})
        self._auth = Auth.from_settings(settings)
        self._app = create_app(settings, self._auth)
        # The pool's own requests are not the run's: their access log would only fill stderr.
        logging.getLogger("userauth.access").setLevel(logging.WARNING)
        self._cookie = settings.session_cookie_name
        self._sessions = list(session_ids)
        self._browser = self._app.test_client()
        self._rp = self._app.test_client()
        self._next = 0

    def close(self) -> None:
        self._auth.db.close()

    def register(self, alg: str) -> BenchClient:
        """Register a first-party confidential client whose ID tokens are signed with `alg`."""
        added = self._auth.oidc.clients.add(
            f"bench {alg}", [REDIRECT], first_party=True, id_token_alg=alg
        )
        assert added.client_secret is not None
        return BenchClient(alg, added.client_id, added.client_secret)

    def codes(self, client: BenchClient, count: int) -> list[str]:
        """Return `count` lines `code verifier`: codes issued to `client`, with PKCE."""
        return [" ".join(self._code(client)) for _ in range(count)]

    def tokens(self, client: BenchClient, count: int) -> list[tuple[str, str]]:
        """Exchange `count` codes; return each (access token, refresh token)."""
        issued = []
        for _ in range(count):
            code, verifier = self._code(client)
            answer = self._rp.post(
                "/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT,
                    "code_verifier": verifier,
                },
                headers={"Authorization": client.basic},
            )
            body = answer.get_json()
            assert answer.status_code == 200, body
            issued.append((str(body["access_token"]), str(body["refresh_token"])))
        return issued

    def _code(self, client: BenchClient) -> tuple[str, str]:
        """Authorize `client` for the next seeded session; return the code and its verifier."""
        self._next = (self._next + 1) % len(self._sessions)
        self._browser.set_cookie(self._cookie, self._sessions[self._next])
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        answer = self._browser.get(
            "/oauth2/authorize",
            query_string={
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": REDIRECT,
                "scope": SCOPE,
                "state": "bench",
                "nonce": secrets.token_urlsafe(12),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        location = answer.headers.get("Location", "")
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
        assert location.startswith(REDIRECT), location
        [code] = parse_qs(urlsplit(location).query)["code"]
        return code, verifier
