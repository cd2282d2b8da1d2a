"""The WebAuthn relying party a request is served as, and how ceremony options are answered.

Shared by the passkey routes: registering and logging in (passkey_routes.py), signing up
(passkey_signup_routes.py) and re-authenticating (passkey_reauth_routes.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request

from userauth.passkey_terms import RelyingParty
from userauth.web.context import current_auth

# The 400 or 401 of a ceremony's second step, whichever route it is.
REFUSED = "The passkey response does not verify, or its challenge is unknown, spent or expired."


def relying_party() -> RelyingParty:
    """Return the relying party of this request: the settings', or in development (none
    set) the request's own host and origin."""
    settings = current_auth().settings.webauthn
    if settings.rp_id is not None:
        origins = settings.origins or (f"https://{settings.rp_id}",)
        return RelyingParty(settings.rp_id, origins, settings.rp_name)
    origin = request.host_url.rstrip("/").lower()
    return RelyingParty(urlsplit(origin).hostname or "localhost", (origin,), settings.rp_name)


def options_answer(options_json: str) -> Response:
    """Answer a ceremony's options, already JSON (py_webauthn's options_to_json)."""
    return Response(options_json, mimetype="application/json")
