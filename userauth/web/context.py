"""The app's Auth and the client asking: the one way the web layer gets each.

create_app() puts the Auth in the app (`install_auth`); a request reaches it through
`current_auth()`, and code holding the app through `auth_of(app)`.
"""

from __future__ import annotations

from flask import Flask, current_app, request

from userauth.audit import Client
from userauth.auth import Auth

_EXTENSION = "userauth"


def install_auth(app: Flask, auth: Auth) -> None:
    """Make `auth` the app's Auth, for every request it serves."""
    app.extensions[_EXTENSION] = auth


def auth_of(app: Flask) -> Auth:
    """Return the Auth of an app built by create_app()."""
    auth: Auth = app.extensions[_EXTENSION]
    return auth


def current_auth() -> Auth:
    """Return the Auth of the app serving the current request."""
    return auth_of(current_app)


def current_client() -> Client:
    """Return who is asking: the client's address (after ProxyFix), its User-Agent and its
    Accept-Language (read as sent: a mail it causes is written in its language)."""
    return Client(
        address=request.remote_addr or "",
        user_agent=request.user_agent.string,
        accept_language=request.headers.get("Accept-Language", ""),
    )
