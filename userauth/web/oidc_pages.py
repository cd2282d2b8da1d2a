"""The account page's apps: the OpenID Connect clients with access, each revocable.

Nested in the pages blueprint (pages.py), so it has their CSRF check, CSP and error pages.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from apiflask import APIBlueprint
from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.session import current_session

oidc_pages = APIBlueprint("apps", __name__, enable_openapi=False)
AUTHORIZE_PATH = "/oauth2/authorize"


def return_origin() -> str | None:
    """Return the origin of the registered redirect URI the page's `next` (an authorization
    request) ends at, for the pages' CSP `form-action`; None for any other `next`.

    Browsers apply `form-action` to every redirect after a form is sent (CSP 3): the login's
    redirect to /oauth2/authorize goes on to the client, which must be allowed. Only a URI
    registered for the client is: nothing else can be named this way.
    """
    target = urlsplit(request.values.get("next", ""))
    if target.path != AUTHORIZE_PATH or target.netloc:
        return None
    query = parse_qs(target.query)
    client_ids, uris = query.get("client_id", []), query.get("redirect_uri", [])
    if len(client_ids) != 1 or len(uris) != 1:
        return None
    client = current_auth().oidc.clients.find(client_ids[0])
    if client is None or not client.check_redirect_uri(uris[0]):
        return None
    uri = urlsplit(uris[0])
    return f"{uri.scheme}://{uri.netloc}"


@oidc_pages.post("/account/apps/<client_id>/revoke")
def revoke_app(client_id: str) -> ResponseReturnValue:
    """Take an app's access away: forget the consent and revoke its tokens."""
    live = current_session()
    if live is None:
        return page.to_login()
    if current_auth().oidc.withdraw_consent(live.user_id, client_id):
        current_auth().audit.record("oidc_access_revoked", live.user_id, current_client())
        flash(_("The app no longer has access to your account."))
    else:
        flash(_("That app had no access any more."), "error")
    return redirect(url_for("pages.account"))
