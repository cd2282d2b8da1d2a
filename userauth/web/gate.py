"""The forward-auth gate: `GET /auth/verify`, asked by a reverse proxy on every request.

nginx's `auth_request` wants 200 or 401 and redirects itself; Caddy's `forward_auth` and
Traefik pass the gate's answer on, so `?redirect=true` answers 302 to the login page instead,
carrying the original URL (rebuilt from X-Forwarded-Proto/Host/Uri) if its host is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from apiflask import APIBlueprint
from flask import Response, jsonify, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.sessions import LiveSession
from userauth.settings import GateSettings, Settings
from userauth.web.context import current_auth
from userauth.web.redirects import safe_target
from userauth.web.schemas import (
    SESSION_COOKIE_SCHEME,
    UNAVAILABLE,
    GateQuery,
    Identity,
    responses,
)
from userauth.web.session import current_session

gate = APIBlueprint("gate", __name__)


@gate.get("/auth/verify")
@gate.input(GateQuery, location="query", arg_name="query")
@gate.output(
    Identity,
    description="A live session; its user is also in the identity headers. Key on the user "
    "id: the email header is not proof that the person owns the address.",
)
@gate.doc(
    security=SESSION_COOKIE_SCHEME,
    responses=responses(
        {
            302: {
                "description": "No live session (of the level asked), redirect mode: the "
                "login page."
            },
            401: "No live session, or (aal=2) one made without a second factor.",
            503: UNAVAILABLE,
        }
    ),
)
def verify(query: dict[str, Any]) -> Response | WerkzeugResponse:
    """Forward-auth gate: 200 and the identity headers for a live session, else 401 (or 302).

    With `aal=2`, a session made without a second factor is answered as no session: the
    redirect mode sends the person to log in again, with the second step (NIST SP 800-63B
    4.2). The 200 carries the session's level in a header (USERAUTH_GATE_AAL_HEADER), and
    whether the email is verified (USERAUTH_GATE_EMAIL_VERIFIED_HEADER, "true"/"false").
    """
    settings = current_auth().settings
    live = current_session()
    if live is not None and live.aal < query["aal"]:
        live = None
    if live is None:
        if query["redirect"]:
            return redirect(login_location(settings, aal=query["aal"]), code=302)
        response = jsonify(message="no live session")
        response.status_code = 401
        return response
    answer = identity_answer(live, settings.gate)
    response = jsonify(answer.body)
    response.headers.extend(answer.headers)
    return response


@dataclass(frozen=True)
class IdentityAnswer:
    """The gate's answer for a live session: its JSON body and its identity headers."""

    body: dict[str, object]
    headers: list[tuple[str, str]]


def identity_answer(live: LiveSession, settings: GateSettings) -> IdentityAnswer:
    """Return the gate's answer for a live session.

    The one source of both answers: the route's, and the hot path's (hot_path.py), which
    must be the same byte for byte.
    """
    return IdentityAnswer(
        body={"id": live.user_id, "email": live.email},
        headers=[
            (settings.user_header, str(live.user_id)),
            (settings.email_header, header_value(live.email)),
            (settings.aal_header, str(live.aal)),
            # Whether the address is proven the user's (verification.py): an app that must
            # trust the email header checks this one too.
            (settings.email_verified_header, "true" if live.email_verified else "false"),
        ],
    )


def login_location(settings: Settings, aal: int = 1) -> str:
    """Return the login page's URL, with `next` set to the original URL when it is allowed.

    With `aal` 2, the URL also carries `aal=2`: the login page then has a one-factor session
    log in again with its second factor (pages: factor_pages.two_factors_wanted), where it
    would otherwise send a logged-in visitor straight back, round the gate again.
    """
    proto = request.headers.get("X-Forwarded-Proto", "")
    host = request.headers.get("X-Forwarded-Host", "")
    uri = request.headers.get("X-Forwarded-Uri", "/")
    query: dict[str, str] = {}
    original = f"{proto}://{host}{uri}"
    if (
        proto
        and host
        and safe_target(original, settings.gate.redirect_hosts, fallback="") == original
    ):
        query["next"] = original
    if aal > 1:
        query["aal"] = str(aal)
    if not query:
        return settings.gate.login_url
    separator = "&" if "?" in settings.gate.login_url else "?"
    return f"{settings.gate.login_url}{separator}{urlencode(query)}"


# Emails made only of these pass as they are; any other character, `%` included, is
# percent-encoded (RFC 3986), so no two emails share a header value.
PLAIN_EMAIL_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.+-_"
)


def header_value(email: str) -> str:
    """Return the email as a header value, percent-encoded unless it is plain."""
    if set(email) <= PLAIN_EMAIL_CHARACTERS:
        return email
    return quote(email, safe="@.+-_")
