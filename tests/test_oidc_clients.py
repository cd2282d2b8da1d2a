"""The provider proven with relying-party libraries nobody here wrote, over real HTTP:
Python Authlib's OAuth 2 client (through requests) and npm's openid-client (Node)."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import IN_CI
from tests.oidc_live import EMAIL, LiveProvider, live_provider
from tests.proxy_servers import need_binary

__all__ = ["live_provider"]
# The relying parties' side of the protocol, not the store: SQLite only.
pytestmark = pytest.mark.databases("sqlite")

REDIRECT = "https://rp.example.com/callback"
RP_FOLDER = Path(__file__).resolve().parent / "oidc_rp"


def metadata(provider: LiveProvider) -> dict[str, Any]:
    answer = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10)
    body: dict[str, Any] = answer.json()
    return body


def follow_authorization(provider: LiveProvider, url: str) -> str:
    """Play the logged-in user's browser: return where the provider sends it back."""
    answer = requests.get(
        url, headers={"Cookie": provider.cookie}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    location: str = answer.headers["Location"]
    return location


class TestAuthlibClient:
    @pytest.fixture
    def session(self, live_provider: LiveProvider) -> OAuth2Session:
        added = live_provider.auth.oidc.clients.add("Python app", [REDIRECT], first_party=True)
        return OAuth2Session(
            added.client_id,
            added.client_secret,
            scope="openid email",
            redirect_uri=REDIRECT,
            code_challenge_method="S256",
        )

    def log_in(self, provider: LiveProvider, session: OAuth2Session) -> tuple[dict[str, Any], str]:
        found = metadata(provider)
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
        url, _state = session.create_authorization_url(
            found["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        assert f"code_challenge={create_s256_code_challenge(verifier)}" in url
        location = follow_authorization(provider, url)
        token = session.fetch_token(
            found["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        return dict(token), nonce

    def test_code_pkce_id_token_and_userinfo(
        self, live_provider: LiveProvider, session: OAuth2Session
    ) -> None:
        token, nonce = self.log_in(live_provider, session)
        found = metadata(live_provider)
        keys = KeySet.import_key_set(requests.get(found["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"values": [found["issuer"]]}},
            {
                "nonce": nonce,
                "client_id": session.client_id,
                "access_token": token["access_token"],
            },
        )
        claims.validate(leeway=5)
        info = session.get(found["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"]
        assert info["email"] == EMAIL

    def test_refresh_rotation_reuse_detection_and_revocation(
        self, live_provider: LiveProvider, session: OAuth2Session
    ) -> None:
        token, _ = self.log_in(live_provider, session)
        found = metadata(live_provider)
        first_refresh = token["refresh_token"]
        rotated = session.refresh_token(found["token_endpoint"], refresh_token=first_refresh)
        assert rotated["refresh_token"] != first_refresh
        with pytest.raises(Exception, match="invalid_grant"):
            session.refresh_token(found["token_endpoint"], refresh_token=first_refresh)
        introspected = session.introspect_token(
            found["introspection_endpoint"], token=rotated["access_token"]
        ).json()
        assert introspected == {"active": False}
        fresh, _ = self.log_in(live_provider, session)
        session.revoke_token(found["revocation_endpoint"], token=fresh["access_token"])
        assert session.get(found["userinfo_endpoint"]).status_code == 401


class TestOpenidClientOnNode:
    def test_discovery_code_pkce_userinfo_rotation_reuse_and_revocation(
        self, live_provider: LiveProvider
    ) -> None:
        node = need_binary("node")
        if not (RP_FOLDER / "node_modules" / "openid-client").is_dir():
            reason = "openid-client is not installed (npm ci in tests/oidc_rp; .ci/run does)"
            if IN_CI:
                pytest.fail(f"CI=true but {reason}")
            pytest.skip(reason)
        added = live_provider.auth.oidc.clients.add("Node app", [REDIRECT], first_party=True)
        done = subprocess.run(
            [
                node,
                "rp.mjs",
                live_provider.issuer,
                added.client_id,
                str(added.client_secret),
                REDIRECT,
                live_provider.cookie,
            ],
            cwd=RP_FOLDER,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout)
        assert results["issuer"] == live_provider.issuer
        assert results["claims"]["email"] == EMAIL
        assert results["claims"]["amr"] == ["pwd"]
        assert results["userinfo"]["sub"] == results["claims"]["sub"]
        assert results["rotated"] is True
        assert results["reuse"] == "invalid_grant"
        assert results["familyAfterReuse"] == "invalid_grant"
        assert results["introspection"] == {"before": True, "after": False}
        assert results["userinfoAfterRevocation"] is not None
