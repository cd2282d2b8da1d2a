"""Rate limits (Flask-Limiter): per client address, and per account where guessing targets one.

A route declares which group of limits it takes with `@rate_limited(group)`; the rates come
from the settings, so `install_rate_limits` decorates each declaring view with its group's
limits when the app is built (Flask-Limiter's own decorators), and the route calls that
app's decorated view. Each limit is one bucket whichever route or page counts
in it (`Limiter.shared_limit`): the API and the hosted pages are two doors to one budget.
Counters live in Redis when REDIS_URL is set; while Redis is down or hung they are kept in
this process (see `_redis_options`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, Response, current_app, g, request
from flask_limiter import Limiter, RouteLimit
from werkzeug.exceptions import HTTPException

from userauth.emails import lookup_key
from userauth.settings import IPV6_CLIENT_PREFIX, Settings
from userauth.tokens import digest
from userauth.web.devices import presented_device
from userauth.web.networks import client_of_request, network_of_request, not_ipv6, widened
from userauth.web.request_hooks import request_hooks
from userauth.web.session import session_cookies

logger = logging.getLogger("userauth")

TOO_MANY = "too many attempts; try again later"
ATTEMPTS = ["POST", "PUT"]
# The attribute on a view function that names its group of limits.
_GROUP = "rate_limit_group"
# Where the app keeps its views decorated with their limits, by endpoint.
_LIMITED_VIEWS = "userauth.limited_views"
# The longest a request waits for Redis (connect, or an answer) before counting locally.
REDIS_TIMEOUT_SECONDS = 0.25
# Scopes that count failed attempts at a password: reserved before it is checked, and
# cleared when it is right.
_FAILURE_SCOPES = frozenset(
    {"login-failures", "device-failures", "password-change", "reauthenticate"}
)
# Where a view leaves, in flask.g, that it proved the password right (password_proven).
_PROVEN = "userauth_password_proven"

View = TypeVar("View", bound=Callable[..., Any])


def rate_limited(group: str) -> Callable[[View], View]:
    """Declare that a route takes the named group of rate limits (see `_groups`).

    The route then calls the app's copy of the view decorated with that group's limits
    (install_rate_limits makes it): the rates are the app's settings, known only when the
    app is built, while routes are declared once for every app.
    """

    def declare(view: View) -> View:
        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            views: Mapping[str, Callable[..., Any]] = current_app.extensions[_LIMITED_VIEWS]
            return views[request.endpoint or ""](*args, **kwargs)

        setattr(limited, _GROUP, group)
        return limited  # type: ignore[return-value]

    return declare


def declared_group(view: Callable[..., Any]) -> str | None:
    """Return the group of rate limits a view declared with `rate_limited`, if any."""
    group: str | None = getattr(view, _GROUP, None)
    return group


def _email_in_body() -> str | None:
    """Return the email field of the body, or None if there is none (or no readable body)."""
    try:
        body = request.get_json(silent=True) if request.is_json else request.form
    except HTTPException:
        # A body over MAX_CONTENT_LENGTH: the route answers 413, no account is named.
        return None
    email = body.get("email") if isinstance(body, Mapping) else None
    return email if isinstance(email, str) and email.strip() else None


def _names_no_account() -> bool:
    return _email_in_body() is None


def _device() -> str | None:
    """Return the id of a valid device cookie entry for the account in the body, or None."""
    email = _email_in_body()
    return None if email is None else presented_device(email)


def _device_key() -> str:
    return "device:" + (_device() or "")


def _account_key(secret: bytes) -> Callable[[], str]:
    """Key a limit by the account named in the body, whatever address the request comes from."""

    def key() -> str:
        email = lookup_key(_email_in_body() or "")
        # A keyed hash, not the email: whoever reads Redis (a dump, MONITOR, a replica) must
        # not learn who is being guessed at, nor test a list of emails without the key.
        # surrogatepass: a JSON body may hold a lone surrogate; a key that raised would make
        # Flask-Limiter take its storage for dead and count in this process alone.
        raw = email.encode("utf-8", errors="surrogatepass")
        return "account:" + hmac.new(secret, raw, hashlib.sha256).hexdigest()

    return key


def _no_reauthentication() -> bool:
    return not (request.form.get("reauth_password") or request.form.get("reauth_code"))


def _session() -> str:
    """Key a limit by the session in the cookie (its digest: keys must hold no secret).

    A request carrying the cookie more than once has no session (cookie tossing): it counts
    under a key of its own, never under the first copy's, whose failures it must not clear.
    """
    copies = session_cookies()
    return "session:" + (digest(copies[0]) if len(copies) == 1 else "ambiguous")


def _redis_options() -> dict[str, Any]:
    """Return redis-py's options for the counters: short timeouts, no retries.

    A hung Redis (SIGSTOP, a full network buffer) must not hold requests: each call gives up
    after REDIS_TIMEOUT_SECONDS, and Flask-Limiter's in-memory fallback then counts in this
    process, trying Redis again after 1, 2, 4 ... 32 s (a breaker), one request at a time.
    """
    # Imported only when REDIS_URL is set: redis-py (and its asyncio client) costs each
    # worker several MB that a server counting in memory never uses.
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        # redis-py 8 retries a failed call 10 times by default, with backoff up to 1 s each:
        # seconds per request against a hung Redis.
        "retry": Retry(NoBackoff(), 0),
    }


def _status_is(*statuses: int) -> dict[str, Callable[[Response], bool]]:
    """Count a request against a limit only when it was answered with one of these statuses."""
    return {"deduct_when": lambda response: response.status_code in statuses}


# A success: the API's 200, or a page's 302 onwards (sign-up to login, login to `next`).
SUCCESS = (200, 302)
_ON_SUCCESS = _status_is(*SUCCESS)


def install_rate_limits(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter to the app and apply each route's declared group of limits.

    Raises:
        LookupError: a route declares a group that does not exist.
    """
    limiter = Limiter(
        client_of_request,
        storage_uri=settings.rate_limits.redis_url or "memory://",
        storage_options=_redis_options() if settings.rate_limits.redis_url else {},
        strategy="moving-window",
        key_prefix=settings.rate_limits.key_prefix,
        headers_enabled=True,
        enabled=settings.rate_limits.enabled,
        # If Redis goes away, every limit is counted in this process rather than dropped:
        # a guessing run on one account is still stopped (per worker) during an outage.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    groups = _groups(limiter, settings)
    limited_views: dict[str, Callable[..., Any]] = {}
    for endpoint, route in app.view_functions.items():
        group = declared_group(route)
        if group is None:
            continue
        if group not in groups:
            raise LookupError(f"{endpoint} declares an unknown rate-limit group {group!r}")
        # The view rate_limited wrapped: decorated here, called by the route.
        limited: Callable[..., Any] = getattr(route, "__wrapped__")  # noqa: B009 - typed as Any
        for limit in groups[group]:
            limited = limit(limited)
        limited_views[endpoint] = limited
    app.extensions[_LIMITED_VIEWS] = limited_views
    # Every limit counts attempts (POST, PUT) only: any other request skips the limiter's
    # work at once, rather than resolving each route's limits to find none apply.
    limiter.request_filter(_no_attempt)
    with _hooks_confined_to(app, frozenset(limited_views)):
        # Registered before Flask-Limiter's own hooks, so it runs after them.
        app.after_request(_settle(limiter))
        limiter.init_app(app)
    return limiter


def _no_attempt() -> bool:
    return request.method not in ATTEMPTS


def _settle(limiter: Limiter) -> Callable[[Response], Response]:
    """Make the hook that settles a limited answer once Flask-Limiter has made its headers."""

    def settle(response: Response) -> Response:
        if 200 <= response.status_code < 300:
            # Retry-After tells a client to wait: a success has nothing to wait for.
            response.headers.pop("Retry-After", None)
        # Only a view that checked a password and found it right clears the failures: a
        # status is not proof (a page's redirect to the login form is a 302, and a right
        # password that needs a second factor is a 401): the view says so (password_proven).
        if g.get(_PROVEN, False):
            _clear_failures(limiter)
        return response

    return settle


def password_proven() -> None:
    """Record that this request's view checked the password and it was right.

    The failed-attempt counts this request counted in (the account's or the device's, the
    session's password changes) are then cleared once the answer is made: only a caller who
    knows the password may clear them (OWASP Authentication Cheat Sheet, account lockout).
    """
    g.setdefault(_PROVEN, True)


def _clear_failures(limiter: Limiter) -> None:
    """Clear the failed-attempt counts of the password that was just proven right.

    Every attempt is counted before its password is checked (so parallel guesses cannot all
    slip in before the first failure is counted); only a caller who knows the password can
    clear them, as account lockouts do.
    """
    for current in limiter.current_limits:
        # (key prefix, key, scope): a shared limit's scope is its own name.
        if current.request_args[-1] in _FAILURE_SCOPES:
            limiter_in_use = current.limiter
            try:
                limiter_in_use.clear(current.limit, *current.request_args)
            # The storage's own errors (redis-py's when the counts are in Redis).
            except limiter_in_use.storage.base_exceptions as error:
                # The count stays (the limit errs closed); the login itself stands.
                logger.warning("rate limit: could not clear a failure count: %s", error)


class _Kinds:
    """Make the limits of each kind (per address, per account, per key) on one limiter."""

    def __init__(self, limiter: Limiter, settings: Settings) -> None:
        self._limiter = limiter
        prefixes = settings.rate_limits.ipv6_prefixes
        self._wider = [prefix for prefix in prefixes if prefix < IPV6_CLIENT_PREFIX]
        self._account = _account_key(settings.rate_limits.counter_key_secret)

    def per_key(
        self, limits: str, scope: str, key: Callable[[], str], **options: Any
    ) -> RouteLimit:
        # One bucket per scope, whichever route or page counts in it: a guessing run must not
        # get a budget per door (the API's POST /sessions and the page's POST /auth/login).
        # Only what changes something counts: showing a page's form (GET) is never limited.
        return self._limiter.shared_limit(
            limits, scope, key_func=key, error_message=TOO_MANY, methods=ATTEMPTS, **options
        )

    def per_address(self, limits: str, scope: str) -> list[RouteLimit]:
        # An IPv6 client is its /64; each wider prefix configured is a bucket more, with room
        # for the many clients of one site (networks.widened).
        wider = (
            self.per_key(widened(limits, p), scope, network_of_request(p), exempt_when=not_ipv6)
            for p in self._wider
        )
        return [self.per_key(limits, scope, client_of_request), *wider]

    def per_account(self, limits: str, scope: str, **options: Any) -> RouteLimit:
        # A body naming no account (missing, or too large to read) is left to the route's 400
        # or 413 and to the per-address limit.
        options.setdefault("exempt_when", _names_no_account)
        return self.per_key(limits, scope, self._account, **options)


def _groups(limiter: Limiter, settings: Settings) -> dict[str, list[RouteLimit]]:
    kinds = _Kinds(limiter, settings)
    return {
        # The failure scopes count every attempt up front; a right password clears them.
        "login": [
            *kinds.per_address(settings.rate_limits.login, "login"),
            # A device that logged into this account before counts apart (devices.py), so
            # strangers' failures cannot lock the owner out (NIST SP 800-63B 5.2.2).
            kinds.per_account(
                settings.rate_limits.login_failures,
                "login-failures",
                exempt_when=lambda: _names_no_account() or _device() is not None,
            ),
            kinds.per_key(
                settings.rate_limits.device_failures,
                "device-failures",
                _device_key,
                exempt_when=lambda: _device() is None,
            ),
        ],
        "register": [
            *kinds.per_address(settings.rate_limits.register, "register"),
            # Production mails the owner of a taken email: that mail is limited per account.
            kinds.per_account(settings.rate_limits.reset_account, "signup-account", **_ON_SUCCESS),
        ],
        "request-reset": [
            *kinds.per_address(settings.rate_limits.reset, "reset-request"),
            kinds.per_account(settings.rate_limits.reset_account, "reset-account"),
        ],
        "reset": kinds.per_address(settings.rate_limits.reset, "reset"),
        # A stolen session must not become a way around the failed-login limit.
        "password-change": [
            kinds.per_key(settings.rate_limits.login_failures, "password-change", _session)
        ],
        # The second step of a login: per address here; per account, wrong codes are counted
        # exactly in the database (second_factors.py), so parallel guesses cannot slip by.
        "second-factor": kinds.per_address(settings.rate_limits.login, "second-factor"),
        # Verification links: mailed at most this often per session (the domain also spaces
        # them per account), spent per address like reset tokens.
        "verification-mail": [
            kinds.per_key(settings.rate_limits.reset_account, "verification-mail", _session)
        ],
        "verify-email": kinds.per_address(settings.rate_limits.reset, "verify-email"),
        # A change of email mails two addresses: limited per session, as reset mails are.
        "email-change": [
            kinds.per_key(settings.rate_limits.reset_account, "email-change", _session)
        ],
        # A passkey login, its options and its answer, is limited as a password login is per
        # address (no account is named to count per account; a signature cannot be guessed).
        "passkey-login": kinds.per_address(settings.rate_limits.login, "passkey-login"),
        # Re-authentication and enrolment codes, per session, as password changes.
        "reauthenticate": [
            kinds.per_key(settings.rate_limits.login_failures, "reauthenticate", _session)
        ],
        # The OpenID Connect authorization endpoint re-authenticates (prompt=login, max_age)
        # in the same budget; its other POSTs (a consent) carry no password and do not count.
        "oidc-authorize": [
            kinds.per_key(
                settings.rate_limits.login_failures,
                "reauthenticate",
                _session,
                exempt_when=_no_reauthentication,
            )
        ],
    }


# The one place that does not use Flask-Limiter plainly, kept by measurement (issue 11,
# item 7; measured again for issue 23). Flask-Limiter's request hooks run on every request
# of the app, though only the routes that declare a group have limits; even with the request
# filter above returning at once, its hooks cost a GET / 253,000 instructions of 1,213,000
# (callgrind, `python -m bench.layers`): confined, GET / costs 21% less. They are run as
# steps of the app's request hooks (request_hooks.py), which spares Flask calling three
# hooks more on every request. Calling limiter.init_app(app) outside the block gives the
# default hooks back; nothing else changes.
@contextmanager
def _hooks_confined_to(app: Flask, endpoints: frozenset[str]) -> Iterator[None]:
    """Make the app-wide request hooks registered inside the block run on `endpoints` only.

    Flask's public hook registries (`before_request_funcs` and its siblings) are edited:
    each hook added inside the block is taken out and becomes a step of the app's request
    hooks, run only for attempts (ATTEMPTS: every limit counts those only) to `endpoints`.
    """
    steps = request_hooks(app)
    # (Flask's registry, where its hooks go as steps, whether a hook takes the response)
    registries: list[tuple[dict[Any, list[Any]], Callable[[Any], object], bool]] = [
        (app.before_request_funcs, steps.before, False),
        (app.after_request_funcs, steps.after, True),
        (app.teardown_request_funcs, steps.teardown, False),
    ]
    earlier = [list(hooks.get(None, [])) for hooks, _, _ in registries]
    yield
    for (hooks, add_step, takes_response), kept in zip(registries, earlier, strict=True):
        for hook in hooks.get(None, []):
            if hook not in kept:
                add_step(_on_endpoints(endpoints, hook, takes_response=takes_response))
        hooks[None] = kept


def _on_endpoints(
    endpoints: frozenset[str], hook: Callable[..., Any], *, takes_response: bool
) -> Callable[..., Any]:
    @wraps(hook)
    def confined(current: Request, *args: Any) -> Any:
        # Attempts only, as the request filter: a GET of a limited view (the login form's
        # page) is exempt from every limit, and Flask-Limiter's hooks still cost it about
        # 330,000 instructions finding so (docs/performance.md, issue 23).
        if current.method in ATTEMPTS and current.endpoint in endpoints:
            return hook(*args)
        return args[0] if takes_response else None

    return confined
