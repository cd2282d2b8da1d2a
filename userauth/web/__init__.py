"""The Flask application: create_app() wires routes, errors and security headers."""

from __future__ import annotations

from flask import Flask, Response

from userauth.auth import Auth
from userauth.settings import Settings
from userauth.web.errors import register_error_handlers
from userauth.web.routes import api

# Form bodies are a few fields; anything bigger is refused before it is parsed.
MAX_CONTENT_LENGTH = 64 * 1024


def create_app(settings: Settings | None = None, auth: Auth | None = None) -> Flask:
    """Build the userauth Flask app around an Auth (made from the settings when not given)."""
    if settings is None:
        settings = auth.settings if auth is not None else Settings.from_env()
    if auth is None:
        auth = Auth(settings=settings)
    app = Flask("userauth")
    app.config.update(MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH, JSON_SORT_KEYS=False)
    app.extensions["userauth"] = auth
    app.register_blueprint(api)
    register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    # Answers carry session ids, reset tokens and personal data: no cache may keep them.
    headers.setdefault("Cache-Control", "no-store")
    return response
