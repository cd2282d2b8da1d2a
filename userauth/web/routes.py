"""The JSON routes of SPEC.md B, and the session and password routes around them."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import Auth, Client
from userauth.web.errors import BadFieldError, LoginFailedError
from userauth.web.session import (
    clear_session_cookie,
    require_session,
    set_session_cookie,
)

RESET_SENT = "if this email has an account, a reset link has been sent to it"
MAX_FIELD_LENGTH = 4096

api = Blueprint("api", __name__)


def _auth() -> Auth:
    auth: Auth = current_app.extensions["userauth"]
    return auth


def _fields(*names: str) -> list[str]:
    """Return the named form fields; each must be present and non-empty.

    Raises:
        BadFieldError: naming the first field that is missing, empty or too long.
    """
    values = []
    for name in names:
        value = request.form.get(name, "")
        if not value:
            raise BadFieldError(f"{name} is required")
        if len(value) > MAX_FIELD_LENGTH:
            raise BadFieldError(f"{name} is too long")
        values.append(value)
    return values


def _client() -> Client:
    return Client(address=request.remote_addr or "", user_agent=request.user_agent.string)


@api.get("/")
def index() -> Response:
    """Greet: the contract's liveness answer."""
    return jsonify(message="Bienvenue")


@api.post("/users")
def register() -> Response:
    """Create an account (SPEC.md B: POST /users)."""
    email, password = _fields("email", "password")
    # Production hides a taken email (Accounts.sign_up decides); development raises.
    _auth().sign_up(email, password)
    # The contract echoes the email as given (it is stored normalised).
    return jsonify(email=email, message="user created")


@api.post("/sessions")
def login() -> Response:
    """Log in: a new device session in the session_id cookie."""
    email, password = _fields("email", "password")
    result = _auth().login(email, password, _client())
    if not result.succeeded or result.session_id is None:
        raise LoginFailedError
    response = jsonify(email=email, message="logged in")
    set_session_cookie(response, result.session_id)
    return response


@api.delete("/sessions")
def logout() -> WerkzeugResponse:
    """End the session in the cookie, then redirect to /."""
    _auth().end_session(require_session(), _client())
    response = redirect("/")
    clear_session_cookie(response)
    return response


@api.get("/profile")
def profile() -> Response:
    """Show the email of the session's user."""
    return jsonify(email=require_session().email)


@api.post("/reset_password")
def request_reset() -> Response:
    """Issue a reset token: in the answer (development) or by email (production)."""
    (email,) = _fields("email")
    answer = _auth().request_password_reset(email, _client())
    if answer.token is None:
        return jsonify(email=email, message=RESET_SENT)
    return jsonify(email=email, reset_token=answer.token)


@api.put("/reset_password")
def reset_password() -> Response:
    """Set a new password with a reset token; every session of the user ends."""
    email, token, new_password = _fields("email", "reset_token", "new_password")
    _auth().reset_password(email, token, new_password, _client())
    return jsonify(email=email, message="Password updated")


@api.get("/sessions")
def list_sessions() -> Response:
    """List the caller's live sessions, never their ids."""
    views = _auth().list_sessions(require_session())
    return jsonify(
        sessions=[
            {
                "id": view.id,
                "created_at": view.created_at.isoformat(),
                "last_used_at": view.last_used_at.isoformat(),
                "expires_at": view.expires_at.isoformat(),
                "user_agent": view.user_agent,
                "client_address": view.client_address,
                "current": view.current,
            }
            for view in views
        ]
    )


@api.delete("/sessions/<int:session_number>")
def revoke_session(session_number: int) -> Response:
    """End one of the caller's sessions, by its listed number."""
    _auth().revoke_session(require_session(), session_number, _client())
    return jsonify(message="session revoked")


@api.put("/profile/password")
def change_password() -> Response:
    """Change the password with the current one; other sessions end."""
    current, new = _fields("password", "new_password")
    _auth().change_password(require_session(), current, new, _client())
    return jsonify(message="Password updated")
