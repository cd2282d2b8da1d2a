"""Helpers of the passkey tests: the ceremonies through the API, with tests/authenticator.py."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.authenticator import SoftAuthenticator
from tests.second_factor import sign_up_and_log_in
from userauth.auth import Auth

ORIGIN = "http://localhost"  # the test client's: development's relying party is the host
CHALLENGE = "login_challenge"
OTHER_EMAIL = "other@example.com"


def options_of(answer: TestResponse) -> dict[str, Any]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = json.loads(answer.get_data(as_text=True))
    return body


def add_passkey(
    client: FlaskClient, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> TestResponse:
    options = options_of(client.post("/passkeys/registration/options"))
    credential = authenticator.create(options, ORIGIN)
    return client.post("/passkeys/registration", json={"credential": credential, "name": name})


def passkey_login(
    client: FlaskClient, authenticator: SoftAuthenticator, **tweaks: Any
) -> TestResponse:
    options = options_of(client.post("/sessions/passkey/options"))
    origin = tweaks.pop("origin", ORIGIN)
    assertion = authenticator.get(options, origin, **tweaks)
    return client.post("/sessions/passkey", json={"credential": assertion})


def session_factors(client: FlaskClient) -> tuple[list[str], int]:
    [current] = [s for s in client.get("/sessions").json["sessions"] if s["current"]]  # type: ignore[index]
    gate = client.get("/auth/verify?aal=2")
    return current["factors"], gate.status_code


def events(auth: Auth) -> list[str]:
    return [event.event for event in auth.db.list_audit_events(limit=100)]


def register_and_log_out(client: FlaskClient, authenticator: SoftAuthenticator) -> None:
    """EMAIL's account with one passkey on `authenticator`; the client is logged out."""
    sign_up_and_log_in(client)
    assert add_passkey(client, authenticator).status_code == 200
    client.delete("/sessions")


def refused(answer: TestResponse, status: int) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.is_json
    assert set(answer.json or {}) == {"message"}
