"""The session seam: the cookie in, the current session out (once per request), the guard.

No route reads or writes the session cookie: they call `current_session()` or
`require_session()`, and `set_session_cookie` / `clear_session_cookie` on their answer.
"""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import Auth
from userauth.errors import InvalidSessionError
from userauth.sessions import LiveSession

SESSION_COOKIE = "session_id"


def _auth() -> Auth:
    auth: Auth = current_app.extensions["userauth"]
    return auth


def current_session() -> LiveSession | None:
    """Return the request's live session, or None; resolved once per request (in flask.g)."""
    if "userauth_session" not in g:
        g.userauth_session = _auth().resolve_session(request.cookies.get(SESSION_COOKIE))
    live: LiveSession | None = g.userauth_session
    return live


def require_session() -> LiveSession:
    """Return the request's live session: the guard of every route that needs a login.

    Raises:
        InvalidSessionError: the request has no live session (403 in the error table).
    """
    live = current_session()
    if live is None:
        raise InvalidSessionError
    return live


def set_session_cookie(response: WerkzeugResponse, session_id: str) -> None:
    """Put a new session id in the answer's cookie, for the session's absolute lifetime."""
    settings = _auth().settings
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(settings.session_lifetime.total_seconds()),
        # The same attributes as clear_session_cookie's, or a browser keeps two cookies.
        path="/",
        domain=settings.cookie_domain,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
    )


def clear_session_cookie(response: WerkzeugResponse) -> None:
    """Tell the browser to drop the session cookie."""
    settings = _auth().settings
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        domain=settings.cookie_domain,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="Lax",
    )
