"""The OpenID Connect provider's machine-facing routes: discovery, JWKS, token, userinfo,
revocation, introspection, and the end-session endpoint (README "OpenID Connect provider").

Authlib answers each protocol endpoint, with RFC 6749's error bodies
(`{"error", "error_description"}`), not the API's `{"message"}`: relying parties' libraries
read those. The authorization endpoint, a page, is web/oidc_authorization.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from apiflask import APIBlueprint
from flask import jsonify, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.oidc.provider import SCOPES
from userauth.web.context import current_auth
from userauth.web.oidc_context import current_server
from userauth.web.oidc_logout import rp_logout
from userauth.web.oidc_schemas import (
    BAD_CLIENT,
    BAD_REQUEST,
    BAD_TOKEN,
    ERROR_PAGE,
    json_ok,
    page_ok,
)
from userauth.web.schemas import UNAVAILABLE, responses

oidc = APIBlueprint("oidc", __name__, tag="OpenID Connect")
View = TypeVar("View", bound=Callable[[], ResponseReturnValue])


@oidc.get("/.well-known/openid-configuration")
@oidc.doc(
    summary="OpenID Connect Discovery 1.0 metadata",
    responses=responses({200: json_ok("The provider's metadata.")}),
)
def discovery() -> ResponseReturnValue:
    """The provider's metadata (OpenID Connect Discovery 1.0 3, RFC 8414)."""
    issuer = current_server().issuer()
    return jsonify(
        issuer=issuer,
        authorization_endpoint=issuer + url_for("oidc_authorization.authorize"),
        token_endpoint=issuer + url_for("oidc.token"),
        userinfo_endpoint=issuer + url_for("oidc.userinfo"),
        jwks_uri=issuer + url_for("oidc.jwks"),
        revocation_endpoint=issuer + url_for("oidc.revoke"),
        introspection_endpoint=issuer + url_for("oidc.introspect"),
        end_session_endpoint=issuer + url_for("oidc.logout"),
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["RS256", "ES256"],
        token_endpoint_auth_methods_supported=[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        revocation_endpoint_auth_methods_supported=[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        introspection_endpoint_auth_methods_supported=[
            "client_secret_basic",
            "client_secret_post",
        ],
        code_challenge_methods_supported=["S256"],
        claims_supported=[
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "amr",
            "acr",
            "email",
            "email_verified",
            "sid",
        ],
        acr_values_supported=["aal1", "aal2"],
        prompt_values_supported=["none", "consent"],
        authorization_response_iss_parameter_supported=True,
        # Back-Channel Logout 1.0 2.1: logout tokens carry `sid`, as ID tokens do. No
        # front-channel logout, so nothing of it is advertised.
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
    )


@oidc.get("/oauth2/jwks")
@oidc.doc(
    summary="The public signing keys (JWKS, RFC 7517)",
    responses=responses({200: json_ok("The JWKS."), 503: UNAVAILABLE}),
)
def jwks() -> ResponseReturnValue:
    """The keys that verify ID tokens: RS256 and ES256, including ones about to sign."""
    return jsonify(current_auth().oidc.keys.jwks())


@oidc.post("/oauth2/token")
@oidc.doc(
    summary="Token endpoint (authorization_code, refresh_token)",
    responses=responses(
        {
            200: json_ok("The tokens (RFC 6749 5.1), with an ID token for the openid scope."),
            400: BAD_REQUEST,
            401: BAD_CLIENT,
            503: UNAVAILABLE,
        }
    ),
)
def token() -> ResponseReturnValue:
    """Exchange a code (with its PKCE verifier) or a refresh token for tokens."""
    response: WerkzeugResponse = current_server().create_token_response()
    return response


@oidc.route("/oauth2/userinfo", methods=["GET", "POST"])
@oidc.doc(
    summary="UserInfo endpoint (a bearer access token)",
    responses=responses(
        {
            200: json_ok("The claims of the token's user and scope."),
            401: BAD_TOKEN,
            503: UNAVAILABLE,
        }
    ),
)
def userinfo() -> ResponseReturnValue:
    """The claims of the access token's user and scope (OpenID Connect Core 5.3)."""
    return _endpoint_response("userinfo")


def _client_endpoint(summary: str, ok: str) -> Callable[[View], View]:
    """Declare an endpoint a client calls with its credentials about one of its tokens."""
    statuses = {200: json_ok(ok), 400: BAD_REQUEST, 401: BAD_CLIENT, 503: UNAVAILABLE}
    declare: Callable[[View], View] = oidc.doc(summary=summary, responses=responses(statuses))
    return declare


@oidc.post("/oauth2/revoke")
@_client_endpoint(
    "Token revocation (RFC 7009)", "Revoked, or not a token of this client (RFC 7009 2.2)."
)
def revoke() -> ResponseReturnValue:
    """Revoke an access or refresh token of the authenticated client."""
    return _endpoint_response("revocation")


@oidc.post("/oauth2/introspect")
@_client_endpoint(
    "Token introspection (RFC 7662, client-authenticated)",
    'The token\'s state (RFC 7662 2.2): `{"active": false}` or its claims.',
)
def introspect() -> ResponseReturnValue:
    """Tell a confidential client whether one of its tokens is active, and its claims."""
    return _endpoint_response("introspection")


def _endpoint_response(name: str) -> WerkzeugResponse:
    """Answer with Authlib's registered endpoint `name` (userinfo, revocation, introspection)."""
    response: WerkzeugResponse = current_server().create_endpoint_response(name)
    return response


@oidc.route("/oauth2/logout", methods=["GET", "POST"])
@oidc.doc(
    summary="End-session endpoint (RP-Initiated Logout 1.0)",
    responses=responses(
        {
            200: page_ok("The confirmation page (no valid id_token_hint), or: logged out."),
            302: {"description": "To the client's registered post-logout URI, with `state`."},
            400: ERROR_PAGE,
            503: UNAVAILABLE,
        }
    ),
)
def logout() -> ResponseReturnValue:
    """End the browser's session (confirmed by the user without a valid `id_token_hint`)."""
    return rp_logout()
