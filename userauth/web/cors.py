"""Other origins: which may call the API with the session cookie (CORS), and refusing the rest.

Nothing is allowed by default. Listed origins get credentialed answers (Flask-CORS); any other
origin gets no CORS header at all, so its browser keeps the answer from its scripts (OWASP HTML5
Security Cheat Sheet: never reflect an arbitrary Origin with credentials). A browser's
state-changing request from another site is refused outright: the API takes form bodies
without a token (the design's clients are programs), so a page elsewhere could otherwise log
a visitor into the attacker's account (login CSRF; OWASP CSRF Prevention Cheat Sheet, Fetch
Metadata). Programs send no Sec-Fetch-Site header and are not affected.
"""

from __future__ import annotations

from functools import partial

from flask import Flask, request
from flask_cors import CORS
from werkzeug.exceptions import Forbidden

from userauth.settings import Settings

# Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600


# Methods that change something: the ones a cross-site request must not reach.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values of a request this site's own pages (or the user, typing) made.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer CORS requests from the configured origins only, refuse other sites' writes."""
    app.before_request(partial(_refuse_cross_site, frozenset(settings.cors_origins)))
    if not settings.cors_origins:
        return
    CORS(
        app,
        # The API only: the HTML pages under /auth/ are for this site's own forms.
        resources=r"^/(?!auth/).*",
        origins=list(settings.cors_origins),
        # No CORS header at all on a request without Origin: nothing to show strangers.
        always_send=False,
        supports_credentials=True,
        allow_headers=["Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=PREFLIGHT_MAX_AGE,
    )


def _refuse_cross_site(allowed_origins: frozenset[str]) -> None:
    """Refuse a browser's state-changing request sent from another site's page.

    Raises:
        Forbidden: the browser says the request is cross-site (or same-site from another
            origin) and its Origin is not an allowed one.
    """
    if request.method not in STATE_CHANGING:
        return
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if fetched_from is None or fetched_from in SAME_SITE_FETCHES:
        return
    if request.headers.get("Origin", "").lower() in allowed_origins:
        return
    raise Forbidden("cross-site request refused")
