"""The Flask application: create_app() wires routes, errors, limits and security headers.

The app is an APIFlask (a Flask subclass) so that the routes' declarations validate input and
make the OpenAPI document at /openapi.json, shown at /docs. Building it does no I/O: it reads
no environment variable and touches no schema (the server and the CLI migrate first).
"""

from __future__ import annotations

import logging

from apiflask import APIFlask
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from userauth.auth import Auth
from userauth.logs import configure_logging
from userauth.settings import Settings, SettingsError
from userauth.settings.production import (
    database_notice,
    development_warning,
    production_problems,
)
from userauth.web.bodies import install_body_checks
from userauth.web.context import install_auth
from userauth.web.cookie_tossing import install_cookie_tossing_checks
from userauth.web.cors import install_cors
from userauth.web.devices import install_device_cookies
from userauth.web.docs import configure_api_documentation
from userauth.web.errors import register_error_handlers
from userauth.web.factor_routes import factors_api
from userauth.web.gate import gate
from userauth.web.hot_path import HotPath
from userauth.web.languages import install_languages
from userauth.web.lifecycle_routes import lifecycle_api
from userauth.web.limits import install_rate_limits
from userauth.web.observability import install_observability
from userauth.web.oidc_authorization import oidc_authorization
from userauth.web.oidc_routes import oidc
from userauth.web.pages import install_pages
from userauth.web.passkey_reauth_routes import passkey_reauth_api
from userauth.web.passkey_routes import passkeys_api
from userauth.web.passkey_signup_routes import passkey_signups_api
from userauth.web.request_hooks import install_request_hooks
from userauth.web.routes import api
from userauth.web.security_headers import SECURITY_HEADERS, SecurityHeaders

logger = logging.getLogger("userauth")

# Bodies are a few fields; anything bigger is refused before it is parsed.
MAX_CONTENT_LENGTH = 64 * 1024


def create_app(settings: Settings, auth: Auth | None = None) -> Flask:
    """Build the userauth Flask app around an Auth (made from the settings when not given).

    Raises:
        SettingsError: production settings that are unsafe, one sentence per problem.
    """
    configure_logging(settings.server.log_level)
    _check_environment(settings)
    if auth is None:
        auth = Auth.from_settings(settings)
    app = APIFlask(
        "userauth",
        title="userauth",
        version="1",
        # No OAuth in this API, so no redirect page for Swagger UI's OAuth flow.
        docs_oauth2_redirect_path=None,
        # Every error, Werkzeug's included, is answered by web/errors.py's one table.
        json_errors=False,
    )
    app.config.update(MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH, DEBUG=settings.server.debug)
    # Innermost: a cached session's `GET /profile` or gate check skips Flask, not the log;
    # it writes the security headers into its answers itself.
    app.wsgi_app = HotPath(SecurityHeaders(app.wsgi_app), auth, SECURITY_HEADERS)  # type: ignore[method-assign]
    if settings.server.trusted_proxies:
        # Only the last N proxies are trusted to say who the client is; a client cannot
        # spoof its address (and so its rate limit) by sending X-Forwarded-For itself.
        n = settings.server.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    install_auth(app, auth)
    app.register_blueprint(api)
    app.register_blueprint(gate)
    app.register_blueprint(factors_api)
    app.register_blueprint(lifecycle_api)
    app.register_blueprint(passkeys_api)
    app.register_blueprint(passkey_signups_api)
    app.register_blueprint(passkey_reauth_api)
    if settings.web.pages_enabled and (settings.oidc.issuer or not settings.is_production):
        # The OpenID Connect provider: its login is the hosted pages'; production serves it
        # once USERAUTH_OIDC_ISSUER is set.
        app.register_blueprint(oidc)
        app.register_blueprint(oidc_authorization)
    install_cors(app, settings)
    install_cookie_tossing_checks(app)
    install_body_checks(app)
    install_device_cookies(app, settings)
    install_pages(app, settings)
    install_languages(app, settings)
    install_observability(app, settings, auth)
    configure_api_documentation(app, settings)
    register_error_handlers(app)
    # Flask-Limiter's wrappers hold the limiter weakly: the app must keep it alive.
    app.extensions["userauth.limiter"] = install_rate_limits(app, settings)
    # Last: the steps above run from Flask's hooks, registered after every library's.
    install_request_hooks(app)
    return app


def _check_environment(settings: Settings) -> None:
    problems = production_problems(settings)
    if problems:
        raise SettingsError("\n".join(problems))
    for warning in (database_notice(settings), development_warning(settings)):
        if warning:
            logger.warning(warning)
