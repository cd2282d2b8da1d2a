"""Other origins: which may call the API with the session cookie (CORS), and refusing the rest.

Nothing is allowed by default. Listed origins get credentialed answers (Flask-CORS); any other
origin gets no CORS header at all, so its browser keeps the answer from its scripts (OWASP HTML5
Security Cheat Sheet: never reflect an arbitrary Origin with credentials). A browser's
state-changing request from another site is refused outright: the API takes form bodies
without a token (the design's clients are programs), so a page elsewhere could otherwise log
a visitor into the attacker's account (login CSRF; OWASP CSRF Prevention Cheat Sheet, Fetch
Metadata, and "Verifying Origin With Standard Headers" where a browser sends no Fetch
Metadata). Programs send none of these headers and are not affected.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from flask import Flask, Request
from flask_cors import CORS
from werkzeug.exceptions import Forbidden

from userauth.settings import Settings
from userauth.web.request_hooks import request_hooks

# Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600


# Methods that change something: the ones a cross-site request must not reach.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values of a request this site's own pages (or the user, typing) made.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
CROSS_SITE_REFUSED = "cross-site request refused"
DEFAULT_PORTS = {"http": 80, "https": 443}


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer CORS requests from the configured origins only, refuse other sites' writes."""
    allowed = frozenset(filter(None, map(normal_origin, settings.web.cors_origins)))
    request_hooks(app).before(partial(_refuse_cross_site, allowed))
    if not settings.web.cors_origins:
        return
    CORS(
        app,
        # The API only: the HTML pages under /auth/ are for this site's own forms.
        resources=r"^/(?!auth/).*",
        origins=list(settings.web.cors_origins),
        # No CORS header at all on a request without Origin: nothing to show strangers.
        always_send=False,
        supports_credentials=True,
        allow_headers=["Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=PREFLIGHT_MAX_AGE,
    )


def _refuse_cross_site(allowed_origins: frozenset[str], current: Request) -> None:
    """Refuse a browser's state-changing request sent from another site's page.

    Raises:
        Forbidden: the browser says the request is cross-site (or same-site from another
            origin), or, without Sec-Fetch-Site, its Origin (else its Referer's origin) is
            neither this site's nor an allowed one; `Origin: null` is never allowed.
    """
    if current.method not in STATE_CHANGING:
        return
    fetched_from = current.headers.get("Sec-Fetch-Site")
    if fetched_from is not None:
        if fetched_from in SAME_SITE_FETCHES or _origin(current) in allowed_origins:
            return
        raise Forbidden(CROSS_SITE_REFUSED)
    # No Fetch Metadata: an older browser, or plain http (browsers send it to secure origins
    # only). The Origin a browser sets, else the Referer, says which page sent the request.
    source = _sending_page_origin(current)
    if source is None or source in allowed_origins:
        return
    # This site as the client reached it: the Host (X-Forwarded-Host behind a trusted proxy).
    if source and source == normal_origin(f"{current.scheme}://{current.host}"):
        return
    raise Forbidden(CROSS_SITE_REFUSED)


def _sending_page_origin(current: Request) -> str | None:
    """Return the origin in Origin, else in Referer: None without either, "" if it names none."""
    if current.headers.get("Origin", "").strip():
        return _origin(current)
    referer = current.headers.get("Referer", "").strip()
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return ""
    return normal_origin(f"{parts.scheme}://{parts.netloc}") or ""


def _origin(current: Request) -> str:
    """Return the request's Origin, normalised ("" for none, `null` or one that is no origin)."""
    return normal_origin(current.headers.get("Origin", "")) or ""


def normal_origin(origin: str) -> str | None:
    """Return `scheme://host:port` in lower case, the port always written; None if no origin.

    Browsers leave the default port out of an Origin and a Host header may write it:
    `https://Example.com` and `https://example.com:443` are the same origin (RFC 6454 4).
    """
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not (parts.scheme and parts.hostname and port) or parts.path or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme.lower()}://{host}:{port}"
