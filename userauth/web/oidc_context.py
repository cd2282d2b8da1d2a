"""The app's OpenID Connect authorization server, built on the provider's first request.

Authlib and joserfc (with OpenSSL) are imported then, not when the app is built: a worker
that serves no OpenID Connect request does not carry them (docs/performance.md, memory).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from userauth.web.context import current_auth

if TYPE_CHECKING:
    from userauth.web.oidc_server import ProviderServer

_EXTENSION = "userauth.oidc"


def current_server() -> ProviderServer:
    """Return the authorization server of the app serving the current request."""
    server: ProviderServer | None = current_app.extensions.get(_EXTENSION)
    if server is None:
        from userauth.web.oidc_logout import end_browser_session
        from userauth.web.oidc_server import build_server

        auth = current_auth()
        built = build_server(auth.oidc, auth.settings.oidc, end_browser_session)
        # Two threads may build one each at first: the first stored is everyone's.
        server = current_app.extensions.setdefault(_EXTENSION, built)
    return server
