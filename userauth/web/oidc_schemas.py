"""The OpenID Connect routes' declarations (web/oidc_routes.py): RFC 6749's error body."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import String

from userauth.web.schemas import json_answer

JSON, HTML = "application/json", "text/html"


class OAuthError(Schema):
    """RFC 6749 5.2's error body, which relying parties' libraries read."""

    error = String(required=True, metadata={"description": "An RFC 6749 error code."})
    error_description = String(metadata={"description": "A sentence for the developer."})


def oauth_error(description: str) -> dict[str, Any]:
    """Return a documented RFC 6749 error answer (for `doc(responses=...)`)."""
    return json_answer(description, OAuthError)


def json_ok(description: str) -> dict[str, Any]:
    """Return a documented 200 with a JSON object (the protocol's own shape)."""
    return {"description": description, "content": {JSON: {"schema": {"type": "object"}}}}


def page_ok(description: str) -> dict[str, Any]:
    """Return a documented 200 with an HTML page."""
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


ERROR_PAGE = {
    "description": "An HTML error page: the client or its redirect URI is not registered, so "
    "nothing is redirected to (RFC 6749 4.1.2.1).",
    "content": {HTML: {"schema": {"type": "string"}}},
}
BAD_REQUEST = oauth_error("The request is malformed or the grant is invalid (RFC 6749 5.2).")
BAD_CLIENT = oauth_error("The client did not authenticate (`invalid_client`).")
BAD_TOKEN = oauth_error("No valid bearer access token (RFC 6750 3.1).")
