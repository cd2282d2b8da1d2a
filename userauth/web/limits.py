"""Rate limits (Flask-Limiter): per client address, and per account where guessing targets one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address

from userauth.emails import lookup_key
from userauth.settings import Settings
from userauth.tokens import digest
from userauth.web.session import SESSION_COOKIE

TOO_MANY = "too many attempts; try again later"


def _account() -> str:
    """Key a limit by the account named in the form, whatever address the request comes from."""
    return "account:" + lookup_key(request.form.get("email", ""))


def _session() -> str:
    """Key a limit by the session in the cookie (its digest: keys must hold no secret)."""
    return "session:" + digest(request.cookies.get(SESSION_COOKIE, ""))


def _status_is(status: int) -> dict[str, Callable[[Response], bool]]:
    """Count a request against a limit only when it was answered with this status."""
    return {"deduct_when": lambda response: response.status_code == status}


_ON_200, _ON_401, _ON_403 = _status_is(200), _status_is(401), _status_is(403)


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter to the app and limit the routes that guessing and spam target."""
    limiter = Limiter(
        get_remote_address,
        storage_uri=settings.redis_url or "memory://",
        strategy="moving-window",
        key_prefix=settings.ratelimit_key_prefix,
        headers_enabled=True,
        enabled=settings.ratelimit_enabled,
        # If Redis goes away, keep limiting in memory rather than failing every request.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    limits = _route_limits(limiter, settings)
    # Flask-Limiter hooks every request of the app; the limited routes are the only ones
    # that need it, and the session check on the others is the service's hot path.
    with _hooks_confined_to(app, frozenset(limits)):
        limiter.init_app(app)
    for endpoint, route_limits in limits.items():
        _guard(app, endpoint, *route_limits)
    return limiter


def _route_limits(limiter: Limiter, settings: Settings) -> dict[str, list[RouteLimit]]:
    def per_address(limits: str, scope: str) -> RouteLimit:
        return limiter.limit(limits, scope=scope, error_message=TOO_MANY)

    def per_key(limits: str, scope: str, key: Callable[[], str], **options: Any) -> RouteLimit:
        return limiter.limit(limits, key_func=key, scope=scope, error_message=TOO_MANY, **options)

    return {
        "api.login": [
            per_address(settings.ratelimit_login, "login"),
            per_key(settings.ratelimit_login_failures, "login-failures", _account, **_ON_401),
        ],
        "api.register": [
            per_address(settings.ratelimit_register, "register"),
            # Production mails the owner of a taken email: that mail is limited per account.
            per_key(settings.ratelimit_reset_account, "signup-account", _account, **_ON_200),
        ],
        "api.request_reset": [
            per_address(settings.ratelimit_reset, "reset"),
            per_key(settings.ratelimit_reset_account, "reset-account", _account),
        ],
        "api.reset_password": [per_address(settings.ratelimit_reset, "reset")],
        # A stolen session must not become a way around the failed-login limit.
        "api.change_password": [
            per_key(settings.ratelimit_login_failures, "password-change", _session, **_ON_403)
        ],
    }


@contextmanager
def _hooks_confined_to(app: Flask, endpoints: frozenset[str]) -> Iterator[None]:
    """Make the app-wide request hooks registered inside the block run on `endpoints` only."""
    # (hooks, whether a hook takes the response and returns it)
    registries: list[tuple[dict[Any, list[Any]], bool]] = [
        (app.before_request_funcs, False),
        (app.after_request_funcs, True),
        (app.teardown_request_funcs, False),
    ]
    earlier = [list(hooks.get(None, [])) for hooks, _ in registries]
    yield
    for (hooks, takes_response), kept in zip(registries, earlier, strict=True):
        hooks[None] = [
            hook if hook in kept else _on_endpoints(endpoints, hook, takes_response=takes_response)
            for hook in hooks.get(None, [])
        ]


def _on_endpoints(
    endpoints: frozenset[str], hook: Callable[..., Any], *, takes_response: bool
) -> Callable[..., Any]:
    @wraps(hook)
    def confined(*args: Any) -> Any:
        if request.endpoint in endpoints:
            return hook(*args)
        return args[0] if takes_response else None

    return confined


def _guard(app: Flask, endpoint: str, *limits: RouteLimit) -> None:
    """Wrap a registered view in rate limits (Flask-Limiter checks them in the wrapper)."""
    view: Callable[..., Any] = app.view_functions[endpoint]
    for limit in limits:
        view = limit(view)
    app.view_functions[endpoint] = view
