"""The OpenID Connect authorization endpoint (OpenID Connect Core 3.1.2): the browser's side
of the code flow.

It is a page: the login is the hosted pages' session (single sign-on with the gate), which
it asks to log in again (prompt=login, max_age), to add a second factor (acr_values=aal2) or
to consent before a code goes back to the client. Errors go back to the client only at a
registered redirect URI (RFC 6749 4.1.2.1), with `iss` (RFC 9207); else an error page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from apiflask import APIBlueprint
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.db import LiveSession
from userauth.oidc.provider import EndUser
from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.forms import ActionForm
from userauth.web.limits import rate_limited
from userauth.web.oidc_context import current_server
from userauth.web.oidc_reauthentication import (
    MAX_AGE,
    SIGN_IN,
    reauthentication_posted,
    satisfied_request,
    wants_fresh_login,
)
from userauth.web.oidc_schemas import ERROR_PAGE, page_ok
from userauth.web.pages import csrf
from userauth.web.reauthentication import ask_again, reauthenticated
from userauth.web.schemas import RATE_LIMITED, UNAVAILABLE, responses
from userauth.web.session import current_session

if TYPE_CHECKING:
    from authlib.oauth2 import OAuth2Error
    from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant

    from userauth.oidc.clients import OidcClient
    from userauth.web.oidc_server import ProviderServer

oidc_authorization = APIBlueprint("oidc_authorization", __name__, tag="OpenID Connect")

BAD_AUTHORIZATION = _l("This sign-in link is invalid: go back to the application and try again.")


@oidc_authorization.route("/oauth2/authorize", methods=["GET", "POST"])
@rate_limited("oidc-authorize")
@oidc_authorization.doc(
    summary="Authorization endpoint (code flow, PKCE)",
    responses=responses(
        {
            200: page_ok("The consent page (a client not registered first-party)."),
            401: page_ok(
                "The re-authentication page (prompt=login, or a max_age the session's last "
                "login exceeds), or a wrong code on it; it posts back to the same request."
            ),
            403: page_ok("A wrong password on the re-authentication page."),
            429: RATE_LIMITED,
            302: {
                "description": "To the login page, or back to the client's redirect URI "
                "with `code`, `state` and `iss` (RFC 9207), or an RFC 6749 error."
            },
            400: ERROR_PAGE,
            503: UNAVAILABLE,
        }
    ),
)
def authorize() -> ResponseReturnValue:
    """Authorize a client for the logged-in user (OpenID Connect Core 3.1.2)."""
    from authlib.oauth2 import OAuth2Error

    server = current_server()
    live = current_session()
    user = None if live is None else EndUser.of_session(live)
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _refused(server, error)
    if not MAX_AGE.fullmatch(request.values.get("max_age", "0")):
        from authlib.oauth2.rfc6749 import InvalidRequestError

        bad = InvalidRequestError(
            "max_age must be 1 to 10 digits", redirect_uri=grant.redirect_uri
        )
        return _refused(server, bad)
    if live is None:
        # The login is the fresh authentication prompt=login and max_age ask for: coming
        # back, the request no longer asks (and auth_time says when it was).
        return redirect(url_for("pages.login", next=satisfied_request()))
    prompts = set(request.values.get("prompt", "").split())
    fresh = False
    if reauthentication_posted():
        live, refused = reauthenticated(live, SIGN_IN, target=request.full_path)
        if refused is not None:
            return refused  # the form again, its error next to the field
        fresh, user = True, EndUser.of_session(live)
    waiting = _interaction_needed(server, grant, live, prompts, fresh=fresh)
    if waiting is not None:
        return waiting
    answer: WerkzeugResponse = server.create_authorization_response(grant=grant, grant_user=user)
    if "code" in parse_qs(urlsplit(answer.location or "").query):
        current_auth().audit.record("oidc_authorized", live.user_id, current_client())
    return answer


def _interaction_needed(
    server: ProviderServer,
    grant: AuthorizationCodeGrant,
    live: LiveSession,
    prompts: set[str],
    *,
    fresh: bool,
) -> ResponseReturnValue | None:
    """Answer what the user must do first (log in again, two factors, consent), or None.
    `fresh`: this request re-authenticated the user."""
    from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

    redirect_uri = grant.redirect_uri
    if not fresh and wants_fresh_login(live, prompts):
        if "none" in prompts:
            return _refused(server, LoginRequiredError(redirect_uri=redirect_uri))
        # OpenID Connect Core 3.1.2.1: the OP MUST re-authenticate the user (NIST SP
        # 800-63B 7.2): the password (or a code) again, posted back to this same request.
        return ask_again(live, SIGN_IN, target=request.full_path)
    if "aal2" in request.values.get("acr_values", "").split() and live.aal < 2:
        if "none" in prompts:
            return _refused(server, LoginRequiredError(redirect_uri=redirect_uri))
        # The hosted login's two-factor mode, as the gate's (NIST SP 800-63B AAL2).
        return redirect(url_for("pages.login", aal="2", next=request.full_path))
    client: OidcClient = grant.request.client
    if client.stored.first_party:
        return None
    scope = grant.request.scope or ""
    granted = current_auth().oidc.consented_scope(live.user_id, client.client_id)
    if (
        "consent" not in prompts
        and granted is not None
        and set(scope.split()) <= set(granted.split())
    ):
        return None
    if "none" in prompts:
        return _refused(server, ConsentRequiredError(redirect_uri=redirect_uri))
    return _consent(server, grant, live, client, scope, fresh=fresh)


def _consent(
    server: ProviderServer,
    grant: AuthorizationCodeGrant,
    live: LiveSession,
    client: OidcClient,
    scope: str,
    *,
    fresh: bool,
) -> ResponseReturnValue | None:
    """Ask the user whether the client may know them (a page), or record their answer.
    Right after a re-authentication (`fresh`), the page posts to the request without what
    asked for it, so that it is not asked again."""
    from authlib.oauth2.rfc6749 import AccessDeniedError

    if request.method == "GET" or fresh:
        shown = render_template(
            "userauth/consent.html",
            client_name=client.stored.name,
            email=live.email,
            scopes=scope.split(),
            action=ActionForm(formdata=None),
            action_url=satisfied_request() if fresh else request.full_path,
            **page.site(),
        )
        return shown, 200
    try:
        csrf.protect()
    except CSRFError:
        return page.render("error.html", 400, message=BAD_AUTHORIZATION)
    if request.form.get("consent") != "allow":
        return _refused(server, AccessDeniedError(redirect_uri=grant.redirect_uri))
    current_auth().oidc.grant_consent(live.user_id, client.client_id, scope)
    current_auth().audit.record("oidc_consent_granted", live.user_id, current_client())
    return None


def _refused(server: ProviderServer, error: OAuth2Error) -> ResponseReturnValue:
    """Answer an authorization error: back to the client only when its redirect URI is
    registered (RFC 6749 4.1.2.1), with `state` and `iss`; else an error page."""
    from authlib.common.urls import add_params_to_uri

    if not error.redirect_uri:
        return page.render("error.html", 400, message=BAD_AUTHORIZATION)
    error.state = request.values.get("state")
    response: WerkzeugResponse = server.handle_error_response(None, error)
    # RFC 9207 2: error responses carry `iss` too.
    if response.location:
        response.location = add_params_to_uri(response.location, {"iss": server.issuer()})
    return response
