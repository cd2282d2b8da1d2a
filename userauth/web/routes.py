"""The JSON routes: the design's seven (README "HTTP API"), and the session and password ones.

Each route's input, answers and errors are declared on it (userauth/web/schemas.py): APIFlask
validates the body, a form or a JSON object, before the route runs, and hands it over parsed.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, jsonify, redirect, request, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth import passwords
from userauth.auth import LoginOutcome
from userauth.errors import EmailNotVerifiedError
from userauth.web.context import current_auth, current_client
from userauth.web.devices import remember_device
from userauth.web.errors import LoginFailedError
from userauth.web.limits import password_proven, rate_limited
from userauth.web.login_answers import second_factor_required
from userauth.web.metrics import record_login_outcome
from userauth.web.schemas import (
    BODY,
    BODY_ERRORS,
    BROWSER_TO_PAGES,
    CROSS_SITE,
    NO_SESSION,
    SESSION_COOKIE_SCHEME,
    SET_COOKIE,
    UNAVAILABLE,
    Credentials,
    EmailAndMessage,
    Message,
    PasswordChange,
    Profile,
    Registration,
    Reset,
    ResetIssued,
    ResetRequest,
    SessionList,
    responses,
)
from userauth.web.session import (
    clear_session_cookie,
    require_session,
    set_session_cookie,
)

RESET_SENT = "if this email has an account, a reset link has been sent to it"
# The design's greeting as jsonify writes it, encoded once: the route answers it every time.
GREETING = b'{"message":"Bienvenue"}\n'

api = APIBlueprint("api", __name__)


@api.get("/")
@api.output(Message, description="The greeting (a browser is sent to the hosted pages).")
@api.doc(responses=responses({302: BROWSER_TO_PAGES}))
def index() -> WerkzeugResponse:
    """Greet: the design's answer, to every client but a browser when the pages are on."""
    if current_auth().settings.web.pages_enabled and _prefers_html():
        response = redirect(url_for("pages.index"))
    else:
        response = Response(GREETING, mimetype="application/json")
    # Caches must keep the two answers apart. Neither answer has a Vary yet: set, not added
    # (`response.vary.add` costs 30 k instructions more, rewriting the header through a set).
    response.headers["Vary"] = "Accept"
    return response


def _prefers_html() -> bool:
    """Tell whether the request ranks HTML above JSON, as a browser's navigation does.

    Programs written for the design send `Accept: */*` (curl, requests) or none, which rank
    both alike: they keep the JSON (RFC 9110 12.5.1; the first offer wins a tie).
    """
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@api.post("/users")
@rate_limited("register")
@api.input(Registration, location=BODY, arg_name="body")
@api.output(EmailAndMessage, description="The account exists.")
@api.doc(
    responses=responses(
        {
            400: "A field is missing, empty, too long or malformed, the password is too weak, "
            "or the email is registered.",
            403: "USERAUTH_SIGNUP is `closed` (sign-up is closed), or `invite` and no "
            "invitation was given (sign-up needs an invitation), or the invitation is "
            "unknown, used, expired or another address's (invalid or expired link)." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def register(body: dict[str, str]) -> Response:
    """Create an account."""
    email, password = body["email"], body["password"]
    # Production hides a taken email (Accounts.sign_up decides); development raises.
    current_auth().sign_up(email, password, current_client(), body.get("invitation") or None)
    # The contract echoes the email as given (it is stored normalised).
    return jsonify(email=email, message="user created")


@api.post("/sessions")
@rate_limited("login")
@api.input(Credentials, location=BODY, arg_name="body")
@api.output(EmailAndMessage, description="Logged in; the session id is in the cookie.")
@api.doc(
    responses=responses(
        {
            200: {"headers": SET_COOKIE},
            401: "Wrong email or password, or a disabled account. Or: the password is right "
            'and the account has a second factor: {"message": "second factor required", '
            '"factors": [...]} and the login_challenge cookie (POST /sessions/second-factor).',
            403: 'USERAUTH_EMAIL_VERIFICATION=required and the password is right: {"message": '
            '"email not verified"}, no session, and a fresh link is mailed.' + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def login(body: dict[str, str]) -> Response:
    """Log in: a new device session in the session_id cookie, or (an account with a second
    factor) 401 "second factor required" and the login_challenge cookie for the next step."""
    email, password = body["email"], body["password"]
    result = current_auth().login(email, password, current_client())
    record_login_outcome(result.outcome)
    if result.outcome is LoginOutcome.SECOND_FACTOR_REQUIRED:
        # The password was right: its failure counts clear, as for a success.
        password_proven()
        return second_factor_required(result)
    if result.outcome is LoginOutcome.EMAIL_NOT_VERIFIED:
        # Every factor was right: not a failure to count; a fresh link is on its way.
        password_proven()
        raise EmailNotVerifiedError
    if not result.succeeded or result.session_id is None:
        raise LoginFailedError
    password_proven()
    response = jsonify(email=email, message="logged in")
    set_session_cookie(response, result.session_id)
    remember_device(response, email)
    return response


@api.delete("/sessions")
@api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            302: {
                "description": "The session ended; redirect to GET /.",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            403: NO_SESSION + CROSS_SITE,
            503: UNAVAILABLE,
        }
    ),
)
def logout() -> WerkzeugResponse:
    """End the session in the cookie, then redirect to /."""
    current_auth().end_session(require_session(), current_client())
    response = redirect("/")
    clear_session_cookie(response)
    return response


@api.get("/profile")
@api.output(Profile, description="The account.")
@api.doc(security=SESSION_COOKIE_SCHEME, responses=responses({403: NO_SESSION, 503: UNAVAILABLE}))
def profile() -> Response:
    """Show the email of the session's user."""
    return jsonify(email=require_session().email)


@api.post("/reset_password")
@rate_limited("request-reset")
@api.input(ResetRequest, location=BODY, arg_name="body")
@api.output(ResetIssued, description="A token was issued.")
@api.doc(
    responses=responses(
        {
            403: "No account has this email (development only)." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def request_reset(body: dict[str, str]) -> Response:
    """Issue a reset token: in the answer (development) or by email (production)."""
    email = body["email"]
    answer = current_auth().request_password_reset(email, current_client())
    if answer.token is None:
        return jsonify(email=email, message=RESET_SENT)
    return jsonify(email=email, reset_token=answer.token)


@api.put("/reset_password")
@rate_limited("reset")
@api.input(Reset, location=BODY, arg_name="body")
@api.output(EmailAndMessage, description="The password is changed.")
@api.doc(
    responses=responses(
        {
            403: "The token is unknown, spent, expired or another account's." + CROSS_SITE,
            **BODY_ERRORS,
        }
    )
)
def reset_password(body: dict[str, str]) -> Response:
    """Set a new password with a reset token; every session of the user ends."""
    email, token, new_password = body["email"], body["reset_token"], body["new_password"]
    current_auth().reset_password(email, token, new_password, current_client())
    return jsonify(email=email, message="Password updated")


@api.get("/sessions")
@api.output(SessionList, description="The account's live sessions.")
@api.doc(security=SESSION_COOKIE_SCHEME, responses=responses({403: NO_SESSION, 503: UNAVAILABLE}))
def list_sessions() -> Response:
    """List the caller's live sessions, never their session ids."""
    views = current_auth().list_sessions(require_session())
    return jsonify(
        sessions=[
            {
                "id": view.id,
                "created_at": view.created_at.isoformat(),
                "last_used_at": view.last_used_at.isoformat(),
                "expires_at": view.expires_at.isoformat(),
                "user_agent": view.user_agent,
                "device": view.device,
                "client_address": view.client_address,
                "current": view.current,
                "factors": list(view.factors),
                "authenticated_at": (view.authenticated_at or view.created_at).isoformat(),
            }
            for view in views
        ]
    )


# `id`, as the listing's field and the README name it: the session's public id.
@api.delete("/sessions/<id>")
@api.output(Message, description="The session ended.")
@api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            403: NO_SESSION + CROSS_SITE,
            404: "No session of the account has this id.",
            503: UNAVAILABLE,
        }
    ),
)
def revoke_session(id: str) -> Response:
    """End one of the caller's sessions, by the id GET /sessions lists."""
    current_auth().revoke_session(require_session(), id, current_client())
    return jsonify(message="session revoked")


@api.put("/profile/password")
@rate_limited("password-change")
@api.input(PasswordChange, location=BODY, arg_name="body")
@api.output(Message, description="The password is changed.")
@api.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            401: "An account without a password (made with a passkey) sets its first one: "
            "re-authentication required, the session's last authentication is too old.",
            403: "No live session, or the current password is wrong." + CROSS_SITE,
            **BODY_ERRORS,
        }
    ),
)
def change_password(body: dict[str, str]) -> Response:
    """Change the password with the current one; other sessions end. An account made with
    a passkey alone sets its first one without `password` (recent authentication)."""
    live, new = require_session(), body["new_password"]
    current = body.get("password")
    if current is None and not passwords.is_set(live.user.hashed_password):
        current_auth().set_password(live, new, current_client())
        return jsonify(message="Password updated")
    if not current:
        raise BadRequest("password is required")
    current_auth().change_password(live, current, new, current_client())
    password_proven()
    return jsonify(message="Password updated")
