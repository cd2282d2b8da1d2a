"""RP-initiated logout's route: end the browser's session, then back to a registered URI.

With a valid `id_token_hint` for the session's user the session ends at once; without one
the user confirms first (RP-Initiated Logout 1.0 6: a logout request is otherwise a way to
log anyone out). Redirects go only to a post-logout URI registered for the client (3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response as WerkzeugResponse

from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.forms import ActionForm
from userauth.web.oidc_context import current_server
from userauth.web.pages import csrf
from userauth.web.session import clear_session_cookie, current_session

if TYPE_CHECKING:
    from authlib.oidc.rpinitiated import EndSessionRequest

BAD_LOGOUT = _l("This logout link is invalid: nothing was done.")


def rp_logout() -> ResponseReturnValue:
    """Answer GET or POST /oauth2/logout (registered by web/oidc_routes.py)."""
    from authlib.oauth2 import OAuth2Error

    current_session()  # resolved first: an outage is a 503 before anything else
    server = current_server()
    try:
        validated: EndSessionRequest = server.validate_endpoint_request("end_session")
    except OAuth2Error:
        return page.render("error.html", 400, message=BAD_LOGOUT)
    if validated.needs_confirmation:
        if request.method == "GET":
            return _confirmation(validated)
        try:
            csrf.protect()
        except CSRFError:
            return page.render("error.html", 400, message=BAD_LOGOUT)
    answer: WerkzeugResponse | None = server.create_endpoint_response("end_session", validated)
    response = answer if answer is not None else _logged_out()
    if g.get("oidc_session_ended"):
        clear_session_cookie(response)
    return response


def end_browser_session(validated: EndSessionRequest) -> None:
    """End the request's session if the hint (when given) names its user."""
    live = current_session()
    if live is None:
        return
    claims = validated.id_token_claims
    if claims is not None and claims.get("sub") != current_auth().oidc.subject(live.user_id):
        return
    current_auth().end_session(live, current_client())
    g.oidc_session_ended = True


def _confirmation(validated: EndSessionRequest) -> ResponseReturnValue:
    client = validated.client
    shown = render_template(
        "userauth/logout.html",
        confirm=True,
        client_name=None if client is None else client.stored.name,
        action=ActionForm(formdata=None),
        action_url=request.full_path,
        **page.site(),
    )
    return shown, 200


def _logged_out() -> WerkzeugResponse:
    shown = render_template("userauth/logout.html", confirm=False, **page.site())
    return WerkzeugResponse(shown, 200, content_type="text/html; charset=utf-8")
