"""Rate limits (Flask-Limiter): per client address, and per account where guessing targets one.

A route declares which group of limits it takes with `@rate_limited(group)`; the rates come
from the settings, so `install_rate_limits` applies each group's `limiter.limit(...)` to the
routes that declared it when the app is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address

from userauth.emails import lookup_key
from userauth.settings import Settings
from userauth.tokens import digest
from userauth.web.session import SESSION_COOKIE

TOO_MANY = "too many attempts; try again later"
ATTEMPTS = ["POST", "PUT"]
# The attribute on a view function that names its group of limits.
_GROUP = "rate_limit_group"

View = TypeVar("View", bound=Callable[..., Any])


def rate_limited(group: str) -> Callable[[View], View]:
    """Declare that a route takes the named group of rate limits (see `_groups`)."""

    def declare(view: View) -> View:
        setattr(view, _GROUP, group)
        return view

    return declare


def declared_group(view: Callable[..., Any]) -> str | None:
    """Return the group of rate limits a view declared with `rate_limited`, if any."""
    group: str | None = getattr(view, _GROUP, None)
    return group


def _account() -> str:
    """Key a limit by the account named in the body, whatever address the request comes from."""
    body = request.get_json(silent=True) if request.is_json else request.form
    email = body.get("email") if isinstance(body, Mapping) else None
    return "account:" + lookup_key(email if isinstance(email, str) else "")


def _session() -> str:
    """Key a limit by the session in the cookie (its digest: keys must hold no secret)."""
    return "session:" + digest(request.cookies.get(SESSION_COOKIE, ""))


def _status_is(*statuses: int) -> dict[str, Callable[[Response], bool]]:
    """Count a request against a limit only when it was answered with one of these statuses."""
    return {"deduct_when": lambda response: response.status_code in statuses}


# A sign-up succeeds with the API's 200 or the sign-up page's 302 to the login page.
_ON_SUCCESS, _ON_401, _ON_403 = _status_is(200, 302), _status_is(401), _status_is(403)


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter to the app and apply each route's declared group of limits.

    Raises:
        LookupError: a route declares a group that does not exist.
    """
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
    groups = _groups(limiter, settings)
    limited_endpoints: set[str] = set()
    for endpoint, view in list(app.view_functions.items()):
        group = declared_group(view)
        if group is None:
            continue
        if group not in groups:
            raise LookupError(f"{endpoint} declares an unknown rate-limit group {group!r}")
        limited: Callable[..., Any] = view
        for limit in groups[group]:
            limited = limit(limited)
        app.view_functions[endpoint] = limited
        limited_endpoints.add(endpoint)

    with _hooks_confined_to(app, frozenset(limited_endpoints)):
        limiter.init_app(app)
    return limiter


def _groups(limiter: Limiter, settings: Settings) -> dict[str, list[RouteLimit]]:
    # Only what changes something counts: showing a page's form (GET) is never limited.
    def per_address(limits: str, scope: str) -> RouteLimit:
        return limiter.limit(limits, scope=scope, error_message=TOO_MANY, methods=ATTEMPTS)

    def per_key(limits: str, scope: str, key: Callable[[], str], **options: Any) -> RouteLimit:
        return limiter.limit(
            limits, key_func=key, scope=scope, error_message=TOO_MANY, methods=ATTEMPTS, **options
        )

    return {
        "login": [
            per_address(settings.ratelimit_login, "login"),
            per_key(settings.ratelimit_login_failures, "login-failures", _account, **_ON_401),
        ],
        "register": [
            per_address(settings.ratelimit_register, "register"),
            # Production mails the owner of a taken email: that mail is limited per account.
            per_key(settings.ratelimit_reset_account, "signup-account", _account, **_ON_SUCCESS),
        ],
        "request-reset": [
            per_address(settings.ratelimit_reset, "reset"),
            per_key(settings.ratelimit_reset_account, "reset-account", _account),
        ],
        "reset": [per_address(settings.ratelimit_reset, "reset")],
        # A stolen session must not become a way around the failed-login limit.
        "password-change": [
            per_key(settings.ratelimit_login_failures, "password-change", _session, **_ON_403)
        ],
    }


# The one place that does not use Flask-Limiter plainly, kept by measurement (issue 11,
# item 7). Flask-Limiter's request hooks resolve limits on every request of the app, though
# only the routes that declare a group have any. Confining them, CPU per request in process
# with limits on (production's setting), median of 9 alternating rounds: GET / 158 -> 122 us
# (-23%), GET /profile 253 -> 216 us (-15%).
# Calling limiter.init_app(app) outside it gives the default hooks back; nothing else changes.
@contextmanager
def _hooks_confined_to(app: Flask, endpoints: frozenset[str]) -> Iterator[None]:
    """Make the app-wide request hooks registered inside the block run on `endpoints` only.

    Flask's public hook registries (`before_request_funcs` and its siblings) are edited:
    each hook added inside the block is wrapped to run only for requests to `endpoints`.
    """
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
