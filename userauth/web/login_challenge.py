"""The login_challenge cookie: binds a pending login (login_transactions.py) to its browser.

Its own cookie, apart from the session's: HttpOnly (no script reads it), SameSite=Lax, Secure
as the session cookie is, host-only, and gone after the pending login's five minutes.
"""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.login_transactions import LIFETIME
from userauth.settings import Settings
from userauth.web.cookie_header import cookie_values

LOGIN_CHALLENGE_COOKIE = "login_challenge"


def challenge_cookie() -> str | None:
    """Return the request's login challenge, or None (none, or several copies: cookie
    tossing, where which one is the browser's own cannot be told)."""
    values = cookie_values(request.environ.get("HTTP_COOKIE"), LOGIN_CHALLENGE_COOKIE)
    return values[0] if len(values) == 1 else None


def set_challenge_cookie(response: WerkzeugResponse, challenge: str, settings: Settings) -> None:
    """Put a pending login's challenge in the answer's cookie, for its lifetime."""
    response.set_cookie(
        LOGIN_CHALLENGE_COOKIE,
        challenge,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        secure=settings.cookies.secure,
        httponly=True,
        samesite="Lax",
    )


def clear_challenge_cookie(response: WerkzeugResponse, settings: Settings) -> None:
    """Tell the browser to drop the login challenge (the login completed, or died)."""
    response.delete_cookie(
        LOGIN_CHALLENGE_COOKIE,
        path="/",
        secure=settings.cookies.secure,
        httponly=True,
        samesite="Lax",
    )
