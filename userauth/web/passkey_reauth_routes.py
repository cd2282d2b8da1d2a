"""The passkey re-authentication routes: a session's user proves it is them again with one of
the account's passkeys, beside POST /sessions/reauthenticate (password or code).

docs/passkeys.md describes the flow; the domain is passkey_reauthentication.py.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from userauth.web.context import current_auth, current_client
from userauth.web.limits import password_proven, rate_limited
from userauth.web.passkey_schemas import PasskeyAssertion, RequestOptions
from userauth.web.relying_party import REFUSED, options_answer, relying_party
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    CROSS_SITE,
    NO_SESSION,
    SESSION_COOKIE_SCHEME,
    UNAVAILABLE,
    Message,
    responses,
)
from userauth.web.session import require_session

passkey_reauth_api = APIBlueprint("passkey_reauth", __name__)


@passkey_reauth_api.post("/sessions/reauthenticate/passkey/options")
@passkey_reauth_api.output(RequestOptions, description="PublicKeyCredentialRequestOptions.")
@passkey_reauth_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses({403: NO_SESSION + CROSS_SITE, 503: UNAVAILABLE}),
)
def reauthentication_options() -> Response:
    """Begin proving it is you again with a passkey: options for
    navigator.credentials.get(), allowing the account's passkeys only."""
    live = require_session()
    options = current_auth().passkey_reauthentication.options(live, relying_party())
    return options_answer(options)


@passkey_reauth_api.post("/sessions/reauthenticate/passkey")
@rate_limited("reauthenticate")
@passkey_reauth_api.input(PasskeyAssertion, location=BODY, arg_name="body")
@passkey_reauth_api.output(Message, description="Authenticated again: sensitive actions open.")
@passkey_reauth_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            401: REFUSED + " Or: the passkey is not this account's.",
            403: NO_SESSION + CROSS_SITE,
            **BODY_ERRORS,
        }
    ),
)
def reauthenticate_with_passkey(body: dict[str, Any]) -> Response:
    """Prove it is you again with one of the account's passkeys (for sensitive actions)."""
    current_auth().passkey_reauthentication.reauthenticate(
        require_session(), relying_party(), body["credential"], current_client()
    )
    # Right: the session's counted re-authentication failures are cleared, as a right
    # password clears them (limits.password_proven).
    password_proven()
    return jsonify(message="re-authenticated")
