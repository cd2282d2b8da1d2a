"""The account page's apps: the OpenID Connect clients with access, each revocable.

Nested in the pages blueprint (pages.py), so it has their CSRF check, CSP and error pages.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue

from userauth.web import page
from userauth.web.context import current_auth, current_client
from userauth.web.session import current_session

oidc_pages = APIBlueprint("apps", __name__, enable_openapi=False)


@oidc_pages.post("/account/apps/<client_id>/revoke")
def revoke_app(client_id: str) -> ResponseReturnValue:
    """Take an app's access away: forget the consent and revoke its tokens."""
    live = current_session()
    if live is None:
        return page.to_login()
    if current_auth().oidc.withdraw_consent(live.user_id, client_id):
        current_auth().audit.record("oidc_access_revoked", live.user_id, current_client())
        flash("The app no longer has access to your account.")
    else:
        flash("That app had no access any more.", "error")
    return redirect(url_for("pages.account"))
