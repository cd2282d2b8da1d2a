"""The passkey routes: registering, listing, renaming and removing passkeys, and logging in
with one (alone, or as the second factor of a pending login).

docs/passkeys.md describes the flows; the domain is passkeys.py,
passkey_registrations.py and passkey_logins.py.
"""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response, jsonify
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import LoginOutcome
from userauth.db import StoredPasskey
from userauth.errors import LoginChallengeError, PasskeyLoginError
from userauth.web.context import current_auth, current_client
from userauth.web.limits import rate_limited
from userauth.web.login_answers import login_completed
from userauth.web.login_challenge import (
    challenge_cookie,
    set_challenge_cookie,
)
from userauth.web.metrics import record_login_outcome
from userauth.web.passkey_schemas import (
    CreationOptions,
    PasskeyAdded,
    PasskeyAssertion,
    PasskeyList,
    PasskeyName,
    PasskeyRegistration,
    RequestOptions,
)
from userauth.web.relying_party import REFUSED, options_answer, relying_party
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    CROSS_SITE,
    CROSS_SITE_ONLY,
    NO_SESSION,
    RATE_LIMITED,
    RECENT,
    SESSION_COOKIE_SCHEME,
    TOO_LARGE,
    UNAVAILABLE,
    UNSUPPORTED_BODY,
    EmailAndMessage,
    Message,
    responses,
)
from userauth.web.session import require_session

passkeys_api = APIBlueprint("passkeys", __name__)


def _view(passkey: StoredPasskey) -> dict[str, Any]:
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at.isoformat(),
        "last_used_at": None if passkey.last_used_at is None else passkey.last_used_at.isoformat(),
        "backed_up": passkey.backed_up,
    }


@passkeys_api.post("/passkeys/registration/options")
@passkeys_api.output(CreationOptions, description="PublicKeyCredentialCreationOptions (JSON).")
@passkeys_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses({401: RECENT, 403: NO_SESSION + CROSS_SITE, 503: UNAVAILABLE}),
)
def registration_options() -> Response:
    """Begin adding a passkey: options for navigator.credentials.create()."""
    live = require_session()
    return options_answer(
        current_auth().passkey_registrations.registration_options(live, relying_party())
    )


@passkeys_api.post("/passkeys/registration")
@rate_limited("reauthenticate")
@passkeys_api.input(PasskeyRegistration, location=BODY, arg_name="body")
@passkeys_api.output(PasskeyAdded, description="The passkey is added; other sessions end.")
@passkeys_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            400: REFUSED,
            401: RECENT,
            403: NO_SESSION + CROSS_SITE,
            **BODY_ERRORS,
        }
    ),
)
def register_passkey(body: dict[str, Any]) -> Response:
    """Finish adding a passkey with the response of navigator.credentials.create()."""
    passkey = current_auth().passkey_registrations.register(
        require_session(),
        relying_party(),
        body["credential"],
        body.get("name") or "",
        current_client(),
    )
    return jsonify(id=passkey.id, name=passkey.name, created_at=passkey.created_at.isoformat())


@passkeys_api.get("/passkeys")
@passkeys_api.output(PasskeyList, description="The account's passkeys.")
@passkeys_api.doc(
    security=SESSION_COOKIE_SCHEME, responses=responses({403: NO_SESSION, 503: UNAVAILABLE})
)
def list_passkeys() -> Response:
    """List the account's passkeys."""
    live = require_session()
    return jsonify(passkeys=[_view(p) for p in current_auth().passkeys.list(live.user_id)])


@passkeys_api.patch("/passkeys/<int:passkey_id>")
@passkeys_api.input(PasskeyName, location=BODY, arg_name="body")
@passkeys_api.output(Message, description="Renamed.")
@passkeys_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            403: NO_SESSION + CROSS_SITE,
            404: "The account has no such passkey.",
            413: TOO_LARGE,
            415: UNSUPPORTED_BODY,
            503: UNAVAILABLE,
        }
    ),
)
def rename_passkey(passkey_id: int, body: dict[str, str]) -> Response:
    """Rename one of the account's passkeys."""
    current_auth().passkeys.rename(require_session(), passkey_id, body["name"], current_client())
    return jsonify(message="passkey renamed")


@passkeys_api.delete("/passkeys/<int:passkey_id>")
@passkeys_api.output(Message, description="Removed; other sessions end.")
@passkeys_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            401: RECENT,
            403: NO_SESSION + CROSS_SITE,
            404: "The account has no such passkey.",
            409: "It is the account's last way to log in.",
            503: UNAVAILABLE,
        }
    ),
)
def remove_passkey(passkey_id: int) -> Response:
    """Remove one of the account's passkeys (never its last way to log in)."""
    current_auth().passkeys.remove(require_session(), passkey_id, current_client())
    return jsonify(message="passkey removed")


@passkeys_api.post("/sessions/passkey/options")
@rate_limited("passkey-login")
@passkeys_api.output(RequestOptions, description="PublicKeyCredentialRequestOptions (JSON).")
@passkeys_api.doc(responses=responses({403: CROSS_SITE_ONLY, 429: RATE_LIMITED, 503: UNAVAILABLE}))
def login_options() -> Response:
    """Begin a passkey login: options for navigator.credentials.get(), and the
    login_challenge cookie (a pending login's own, after a right password)."""
    auth = current_auth()
    begun = auth.passkey_logins.options(relying_party(), challenge_cookie())
    response = options_answer(begun.options_json)
    set_challenge_cookie(response, begun.cookie, auth.settings)
    return response


@passkeys_api.post("/sessions/passkey")
@rate_limited("passkey-login")
@passkeys_api.input(PasskeyAssertion, location=BODY, arg_name="body")
@passkeys_api.output(EmailAndMessage, description="Logged in; the session id is in the cookie.")
@passkeys_api.doc(
    responses=responses(
        {
            401: REFUSED + " Or: the pending login died.",
            403: 'USERAUTH_EMAIL_VERIFICATION=required and the passkey is right: {"message": '
            '"email not verified"}, no session, and a fresh link is mailed.' + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def passkey_login(body: dict[str, Any]) -> WerkzeugResponse:
    """Log in with the response of navigator.credentials.get() and the login_challenge
    cookie: alone, or completing the pending login."""
    auth = current_auth()
    try:
        done = auth.passkey_logins.login(
            relying_party(), challenge_cookie(), body["credential"], current_client()
        )
    except (PasskeyLoginError, LoginChallengeError):
        record_login_outcome(LoginOutcome.FAILED)
        raise
    record_login_outcome(LoginOutcome.SUCCEEDED)
    return login_completed(done.user.email, done.session_id)
