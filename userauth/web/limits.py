"""Rate limits (Flask-Limiter): per client address, and per account where guessing targets one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address

from userauth.auth import lookup_key
from userauth.settings import Settings
from userauth.tokens import digest
from userauth.web.routes import SESSION_COOKIE

logger = logging.getLogger(__name__)

TOO_MANY = "too many attempts; try again later"


def _account() -> str:
    """Key a limit by the account named in the form, whatever address the request comes from."""
    return "account:" + lookup_key(request.form.get("email", ""))


def _session() -> str:
    """Key a limit by the session in the cookie (its digest: keys must hold no secret)."""
    return "session:" + digest(request.cookies.get(SESSION_COOKIE, ""))


def _login_failed(response: Response) -> bool:
    return response.status_code == 401


def _wrong_current_password(response: Response) -> bool:
    return response.status_code == 403


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter to the app and limit the routes that guessing and spam target."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        strategy="moving-window",
        key_prefix=settings.ratelimit_key_prefix,
        headers_enabled=True,
        enabled=settings.ratelimit_enabled,
        # If Redis goes away, keep limiting in memory rather than failing every request.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )

    def per_address(limits: str, scope: str | None = None) -> RouteLimit:
        return limiter.limit(limits, scope=scope, error_message=TOO_MANY)

    def per_account(limits: str, scope: str, **options: Any) -> RouteLimit:
        return limiter.limit(
            limits, key_func=_account, scope=scope, error_message=TOO_MANY, **options
        )

    failed_logins = per_account(
        settings.ratelimit_login_failures, "login-failures", deduct_when=_login_failed
    )
    _guard(app, "api.login", per_address(settings.ratelimit_login), failed_logins)
    _guard(app, "api.register", per_address(settings.ratelimit_register))
    _guard(
        app,
        "api.request_reset",
        per_address(settings.ratelimit_reset, "reset"),
        per_account(settings.ratelimit_reset_account, "reset-account"),
    )
    _guard(app, "api.reset_password", per_address(settings.ratelimit_reset, "reset"))
    # A stolen session must not become a way around the failed-login limit.
    _guard(
        app,
        "api.change_password",
        limiter.limit(
            settings.ratelimit_login_failures,
            key_func=_session,
            scope="password-change-failures",
            deduct_when=_wrong_current_password,
            error_message=TOO_MANY,
        ),
    )
    return limiter


def _guard(app: Flask, endpoint: str, *limits: RouteLimit) -> None:
    """Wrap a registered view in rate limits (Flask-Limiter checks them in the wrapper)."""
    view: Callable[..., Any] = app.view_functions[endpoint]
    for limit in limits:
        view = limit(view)
    app.view_functions[endpoint] = view
