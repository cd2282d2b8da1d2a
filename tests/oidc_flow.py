"""What the OpenID Connect tests share: a provider app, its clients, and the steps of the
code flow as a browser and a relying party make them (through Flask's test client)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.test_pages import sign_up
from userauth.auth import Auth

REDIRECT = "https://rp.example.com/callback"


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str | None


def register(auth: Auth, *, public: bool = False, first_party: bool = True) -> RegisteredClient:
    added = auth.oidc.clients.add("Grafana", [REDIRECT], public=public, first_party=first_party)
    return RegisteredClient(added.client_id, added.client_secret)


def logged_in_browser(client: FlaskClient) -> FlaskClient:
    # Signing up in development logs in: the browser holds a session, as after the login page.
    sign_up(client)
    return client


def authorize(
    browser: FlaskClient, client: RegisteredClient, pkce: Pkce | None = None, /, **params: str
) -> TestResponse:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "the-state",
        # A new nonce each time: a nonce seen before is refused (replay).
        "nonce": secrets.token_urlsafe(8),
        **params,
    }
    if pkce is not None:
        query |= {"code_challenge": pkce.challenge, "code_challenge_method": "S256"}
    return browser.get("/oauth2/authorize", query_string=query)


def redirected_params(answer: TestResponse) -> dict[str, str]:
    assert answer.status_code == 302, answer.get_data(as_text=True)
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def exchange(
    rp: FlaskClient, client: RegisteredClient, code: str, pkce: Pkce | None = None, /, **extra: str
) -> TestResponse:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    if pkce is not None:
        form["code_verifier"] = pkce.verifier
    return rp.post("/oauth2/token", data=form, headers=client_auth(client))


def client_auth(client: RegisteredClient) -> dict[str, str]:
    if client.secret is None:
        return {}
    pair = f"{client.client_id}:{client.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def public_form(client: RegisteredClient) -> dict[str, str]:
    return {"client_id": client.client_id} if client.secret is None else {}
