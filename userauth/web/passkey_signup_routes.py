"""The passkey sign-up routes: an account whose only credential is a passkey.

docs/passkeys.md describes the flow; the domain is passkey_signups.py.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify

from userauth.web.context import current_auth, current_client
from userauth.web.limits import rate_limited
from userauth.web.login_challenge import (
    challenge_cookie,
    clear_challenge_cookie,
    set_challenge_cookie,
)
from userauth.web.passkey_schemas import CreationOptions, PasskeyAssertion, SignUpEmail
from userauth.web.relying_party import options_answer, relying_party
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    CROSS_SITE,
    EmailAndMessage,
    responses,
)
from userauth.web.session import set_session_cookie

passkey_signups_api = APIBlueprint("passkey_signups", __name__)


@passkey_signups_api.post("/users/passkey/options")
@rate_limited("register")
@passkey_signups_api.input(SignUpEmail, location=BODY, arg_name="body")
@passkey_signups_api.output(CreationOptions, description="PublicKeyCredentialCreationOptions.")
@passkey_signups_api.doc(
    responses=responses(
        {
            400: "The email is missing or malformed, or (development only) registered.",
            403: "USERAUTH_SIGNUP is not `open`." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def sign_up_options(body: dict[str, str]) -> Response:
    """Begin signing up with a passkey instead of a password: options for
    navigator.credentials.create(), and the login_challenge cookie they are bound to."""
    auth = current_auth()
    # USERAUTH_SIGNUP: a passkey sign-up takes no invitation, so only `open` allows it.
    auth.invitations.check_open(None)
    begun = auth.passkey_signups.options(relying_party(), body["email"])
    response = options_answer(begun.options_json)
    set_challenge_cookie(response, begun.cookie, auth.settings)
    return response


@passkey_signups_api.post("/users/passkey")
@rate_limited("register")
@passkey_signups_api.input(PasskeyAssertion, location=BODY, arg_name="body")
@passkey_signups_api.output(EmailAndMessage, description="The account exists.")
@passkey_signups_api.doc(
    responses=responses(
        {
            400: "The passkey does not verify, its challenge is unknown, spent or expired, "
            "or (development only) the email is registered.",
            403: "USERAUTH_SIGNUP is not `open`." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def sign_up(body: dict[str, Any]) -> Response:
    """Create an account whose only credential is the passkey (development also logs in)."""
    auth = current_auth()
    auth.invitations.check_open(None)
    done = auth.passkey_signups.sign_up(
        relying_party(), challenge_cookie(), body["credential"], current_client()
    )
    response = jsonify(email=done.email, message="user created")
    clear_challenge_cookie(response, auth.settings)
    if done.session_id is not None:
        set_session_cookie(response, done.session_id)
    return response
