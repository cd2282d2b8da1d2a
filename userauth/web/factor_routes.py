"""The second-factor routes: the login's second step, re-authentication, and the factors.

README "Two-factor authentication" describes the flow; the domain is login_transactions.py,
enrolment.py and reauthentication.py, reached through the Auth facade.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, jsonify
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import LoginOutcome
from userauth.errors import LoginChallengeError, WrongCodeError
from userauth.web.context import current_auth, current_client
from userauth.web.errors import EnrolmentCodeError
from userauth.web.factor_schemas import (
    Code,
    FactorList,
    Reauthentication,
    RecoveryCodes,
    TotpBegun,
)
from userauth.web.limits import password_proven, rate_limited
from userauth.web.login_answers import login_completed
from userauth.web.login_challenge import (
    challenge_cookie,
    clear_challenge_cookie,
)
from userauth.web.metrics import record_login_outcome
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    CROSS_SITE,
    NO_SESSION,
    RECENT,
    SESSION_COOKIE_SCHEME,
    UNAVAILABLE,
    EmailAndMessage,
    Message,
    responses,
)
from userauth.web.session import require_session

factors_api = APIBlueprint("factors", __name__)


@factors_api.post("/sessions/second-factor")
@rate_limited("second-factor")
@factors_api.input(Code, location=BODY, arg_name="body")
@factors_api.output(EmailAndMessage, description="Logged in; the session id is in the cookie.")
@factors_api.doc(
    responses=responses(
        {
            401: "The code is wrong, or the login_challenge cookie names no live pending login.",
            403: 'USERAUTH_EMAIL_VERIFICATION=required and the code is right: {"message": '
            '"email not verified"}, no session, and a fresh link is mailed.' + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def complete_login(body: dict[str, str]) -> WerkzeugResponse:
    """Complete a login with a TOTP or recovery code and the login_challenge cookie."""
    try:
        result = current_auth().complete_login(challenge_cookie(), body["code"], current_client())
    except WrongCodeError:
        record_login_outcome(LoginOutcome.FAILED)
        raise
    except LoginChallengeError as error:
        response = jsonify(message=str(error))
        response.status_code = 401
        clear_challenge_cookie(response, current_auth().settings)
        return response
    record_login_outcome(LoginOutcome.SUCCEEDED)
    assert result.session_id is not None  # noqa: S101 - a completed login has a session
    return login_completed(result.email or "", result.session_id)


@factors_api.post("/sessions/reauthenticate")
@rate_limited("reauthenticate")
@factors_api.input(Reauthentication, location=BODY, arg_name="body")
@factors_api.output(Message, description="Authenticated again: sensitive actions are open.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            401: "The code is wrong.",
            403: NO_SESSION + " Or: the password is wrong." + CROSS_SITE,
            **BODY_ERRORS,
        }
    ),
)
def reauthenticate(body: dict[str, str]) -> Response:
    """Prove it is you again, with the password or a code (for sensitive actions)."""
    current_auth().reauthenticate(
        require_session(), current_client(), password=body.get("password"), code=body.get("code")
    )
    password_proven()
    return jsonify(message="re-authenticated")


@factors_api.get("/factors")
@factors_api.output(FactorList, description="The account's second factors.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME, responses=responses({403: NO_SESSION, 503: UNAVAILABLE})
)
def list_factors() -> Response:
    """List the account's second factors and its recovery codes left."""
    listed = current_auth().list_factors(require_session())
    return jsonify(
        factors=[
            {
                "type": view.type,
                "created_at": view.created_at.isoformat(),
                "last_used_at": None
                if view.last_used_at is None
                else view.last_used_at.isoformat(),
            }
            for view in listed.factors
        ],
        recovery_codes_left=listed.recovery_codes_left,
    )


@factors_api.post("/factors/totp")
@factors_api.output(TotpBegun, description="A new seed, pending until PUT confirms it.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {401: RECENT, 403: NO_SESSION, 409: "TOTP is enabled already.", 503: UNAVAILABLE}
    ),
)
def begin_totp() -> Response:
    """Begin enabling TOTP: the seed and its otpauth URI (for the QR code)."""
    begun = current_auth().begin_totp(require_session(), current_client())
    return jsonify(secret=begun.secret, otpauth_uri=begun.otpauth_uri)


@factors_api.put("/factors/totp")
@rate_limited("reauthenticate")
@factors_api.input(Code, location=BODY, arg_name="body")
@factors_api.output(RecoveryCodes, description="TOTP is on; the recovery codes, shown once.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            400: "The code is wrong.",
            401: RECENT,
            403: NO_SESSION + CROSS_SITE,
            409: "No enrolment was begun in the last 10 minutes.",
            **BODY_ERRORS,
        }
    ),
)
def confirm_totp(body: dict[str, str]) -> Response:
    """Confirm TOTP with a code from the app; other sessions end."""
    try:
        codes = current_auth().confirm_totp(require_session(), body["code"], current_client())
    except WrongCodeError:
        raise EnrolmentCodeError from None
    return jsonify(message="two-factor authentication enabled", recovery_codes=codes)


@factors_api.delete("/factors/totp")
@factors_api.output(Message, description="TOTP and the recovery codes are removed.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {401: RECENT, 403: NO_SESSION, 404: "TOTP is not enabled.", 503: UNAVAILABLE}
    ),
)
def disable_totp() -> Response:
    """Disable TOTP; other sessions end."""
    current_auth().disable_totp(require_session(), current_client())
    return jsonify(message="two-factor authentication disabled")


@factors_api.post("/factors/recovery-codes")
@factors_api.output(RecoveryCodes, description="New recovery codes; the old ones are dead.")
@factors_api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {401: RECENT, 403: NO_SESSION, 404: "No second factor is enabled.", 503: UNAVAILABLE}
    ),
)
def regenerate_recovery_codes() -> Response:
    """Replace the recovery codes; other sessions end."""
    codes = current_auth().regenerate_recovery_codes(require_session(), current_client())
    return jsonify(message="new recovery codes", recovery_codes=codes)
