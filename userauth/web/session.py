"""The session seam: the cookie in, the current session out (once per request), the guard.

No route reads or writes the session cookie: they call `current_session()` or
`require_session()`, and `set_session_cookie` / `clear_session_cookie` on their answer. The
cookie's name is the settings' (`Settings.session_cookie_name`). A request that carries the
cookie more than once has no session (and its answer clears every copy: cookie_tossing.py).
"""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.auth import Auth
from userauth.errors import InvalidSessionError
from userauth.sessions import LiveSession
from userauth.web.cookie_header import cookie_values


def _auth() -> Auth:
    auth: Auth = current_app.extensions["userauth"]
    return auth


def session_cookie_name() -> str:
    """Return the session cookie's name for this app (`session_id` or `__Host-session_id`)."""
    return _auth().settings.session_cookie_name


def current_session() -> LiveSession | None:
    """Return the request's live session, or None; resolved once per request (in flask.g).

    A request carrying more than one session cookie has none (cookie_tossing.py).
    """
    if "userauth_session" not in g:
        g.userauth_session = _resolve()
    live: LiveSession | None = g.userauth_session
    return live


def session_cookies() -> list[str]:
    """Return every copy of the session cookie the request carries, as the browser sent them."""
    return cookie_values(request.environ.get("HTTP_COOKIE"), session_cookie_name())


def _resolve() -> LiveSession | None:
    session_ids = session_cookies()
    # Cookie tossing: a sibling subdomain can add a cookie of this name (Domain=the parent,
    # a longer Path, sent first); which copy is the person's own cannot be told, so neither
    # counts, or the visitor would act as the attacker and could not log out of it.
    if len(session_ids) > 1:
        return None
    return _auth().resolve_session(session_ids[0] if session_ids else None)


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
        settings.session_cookie_name,
        session_id,
        max_age=int(settings.security.session_lifetime.total_seconds()),
        # The same attributes as clear_session_cookie's, or a browser keeps two cookies.
        path="/",
        domain=settings.cookies.domain,
        secure=settings.cookies.secure,
        httponly=True,
        samesite="Lax",
    )
    g.userauth_new_cookie = True


def sets_new_cookie() -> bool:
    """Tell whether this request's answer carries a new session cookie (a login)."""
    new: bool = g.get("userauth_new_cookie", False)
    return new


def clear_session_cookie(response: WerkzeugResponse) -> None:
    """Tell the browser to drop the session cookie."""
    settings = _auth().settings
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        domain=settings.cookies.domain,
        secure=settings.cookies.secure,
        httponly=True,
        samesite="Lax",
    )
