"""The JSON routes of SPEC.md B, and the session and password routes around them."""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import Auth, Client
from userauth.errors import EmailTakenError, InvalidSessionError
from userauth.mail import Outbox
from userauth.web.errors import BadFieldError, LoginFailedError

SESSION_COOKIE = "session_id"
RESET_SENT = "if this email has an account, a reset link has been sent to it"
MAX_FIELD_LENGTH = 4096

api = Blueprint("api", __name__)


def _auth() -> Auth:
    auth: Auth = current_app.extensions["userauth"]
    return auth


def _outbox() -> Outbox:
    outbox: Outbox = current_app.extensions["userauth.outbox"]
    return outbox


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


def _session_cookie() -> str | None:
    return request.cookies.get(SESSION_COOKIE)


@api.get("/")
def index() -> Response:
    """Greet: the contract's liveness answer."""
    return jsonify(message="Bienvenue")


@api.post("/users")
def register() -> Response:
    """Create an account (SPEC.md B: POST /users)."""
    email, password = _fields("email", "password")
    auth = _auth()
    try:
        auth.register_user(email, password)
    except EmailTakenError:
        if not auth.settings.is_production:
            raise
        # Production answers as if created and tells the owner by email instead, so the
        # sign-up form does not reveal which emails are registered (SPEC.md C3).
        _outbox().submit(partial(auth.notify_account_exists, email))
    # The contract echoes the email as given (it is stored normalised).
    return jsonify(email=email, message="user created")


@api.post("/sessions")
def login() -> Response:
    """Log in: a new device session in the session_id cookie."""
    email, password = _fields("email", "password")
    auth, client = _auth(), _client()
    if not auth.valid_login(email, password, client):
        raise LoginFailedError
    session_id = auth.create_session(email, client)
    if session_id is None:
        raise LoginFailedError
    response = jsonify(email=email, message="logged in")
    settings = auth.settings
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@api.delete("/sessions")
def logout() -> WerkzeugResponse:
    """End the session in the cookie, then redirect to /."""
    auth = _auth()
    auth.end_session(_session_cookie(), _client())
    response = redirect("/")
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=auth.settings.cookie_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@api.get("/profile")
def profile() -> Response:
    """Show the email of the session's user."""
    email = _auth().session_email(_session_cookie())
    if email is None:
        raise InvalidSessionError
    return jsonify(email=email)


@api.post("/reset_password")
def request_reset() -> Response:
    """Issue a reset token: in the answer (development) or by email (production)."""
    (email,) = _fields("email")
    auth = _auth()
    if auth.settings.is_production:
        # The work happens after the answer, so neither the body nor the response time
        # tells whether the email has an account; the token travels only by email.
        _outbox().submit(partial(auth.send_password_reset, email, _client()))
        return jsonify(email=email, message=RESET_SENT)
    token = auth.get_reset_password_token(email, _client())
    return jsonify(email=email, reset_token=token)


@api.put("/reset_password")
def reset_password() -> Response:
    """Set a new password with a reset token; every session of the user ends."""
    email, token, new_password = _fields("email", "reset_token", "new_password")
    _auth().reset_password(email, token, new_password, _client())
    return jsonify(email=email, message="Password updated")


@api.get("/sessions")
def list_sessions() -> Response:
    """List the caller's live sessions, never their ids."""
    views = _auth().list_sessions(_session_cookie())
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
    _auth().revoke_session(_session_cookie(), session_number, _client())
    return jsonify(message="session revoked")


@api.put("/profile/password")
def change_password() -> Response:
    """Change the password with the current one; other sessions end."""
    current, new = _fields("password", "new_password")
    _auth().change_password(_session_cookie(), current, new, _client())
    return jsonify(message="Password updated")
