"""Operations: request ids, the access log, health and readiness, and the /metrics route."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from apiflask import APIBlueprint
from flask import Flask, Request, Response, current_app, jsonify, request

from userauth import logs
from userauth.auth import Auth
from userauth.db.outages import outage_cause
from userauth.settings import Settings
from userauth.web.metrics import CONTENT_TYPE, LOGIN_OUTCOME_KEY, Metrics
from userauth.web.request_hooks import request_hooks
from userauth.web.schemas import (
    METRICS_TOKEN_SCHEME,
    Status,
    Unavailable,
    json_answer,
    responses,
)

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REQUEST_ID_HEADER = "X-Request-ID"
# An id goes into every log line and back in a header: letters, digits and `._-` only, so
# no line break can forge a log line and nothing can be read as markup (log injection, XSS).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Paths and methods are logged, and a client chooses them: cap what one line can carry.
MAX_LOGGED_PATH = 512
MAX_LOGGED_METHOD = 32
UNMATCHED_ROUTE = "<unmatched>"
# Where the teardown hook leaves the request's (route, method, path) for the WSGI wrapper.
_SERVED_KEY = "userauth.served"
# Seconds a readiness probe waits for Redis before calling it down.
REDIS_TIMEOUT = 2.0

access_log = logging.getLogger("userauth.access")
logger = logging.getLogger(__name__)
operations = APIBlueprint("operations", __name__)


class RequestIds:
    """New request ids: 32 hex digits, a keyed hash of a per-process counter.

    Ids must be unique, not secret: a counter costs no random draw (os.urandom releases the
    GIL, which a busy threaded worker pays for on every request). Hashed with a key drawn
    per process, so an id tells no client how many requests a worker has served, and a
    forked worker, drawing a key of its own, never repeats its parent's ids.
    """

    def __init__(self) -> None:
        self._pid = -1
        self._key = b""
        self._counter = itertools.count()

    def accepted(self, candidate: str | None) -> str:
        """Return the client's request id when it is safe to log, else a new one."""
        if candidate is not None and _VALID_REQUEST_ID.fullmatch(candidate):
            return candidate
        if self._pid != os.getpid():
            self._key, self._pid = secrets.token_bytes(16), os.getpid()
        # next() on a count is atomic under the GIL: threads never share a number.
        number = next(self._counter).to_bytes(16, "big")
        return hashlib.blake2b(number, key=self._key, digest_size=16).hexdigest()


class Dependencies:
    """The services a ready app needs: the database, and Redis when configured.

    The database is probed through the app's own Auth and engine, so a probe tests what a
    request would meet and never migrates: with a committed write that changes nothing
    (DB.probe_write), so a database that answers reads but refuses writes (a read-only file,
    a full disk, a lock held past the busy timeout, a read-only server) is not ready either.
    Redis through a connection of the probe's own.
    """

    def __init__(self, settings: Settings, auth: Auth) -> None:
        self._redis_url = settings.rate_limits.redis_url
        self._auth = auth

    def down(self) -> list[str]:
        """Name each dependency that does not answer now."""
        failed = []
        if not self._answers("database", self._auth.db.probe_write):
            failed.append("database")
        if self._redis_url is not None and not self._answers("redis", self._ping_redis):
            failed.append("redis")
        return failed

    def count_live_sessions(self) -> int | None:
        """Count live device sessions, or None when the database does not answer."""
        try:
            return self._auth.sessions.count_live()
        except Exception as error:  # a scrape must not fail because the database does
            logger.warning("active sessions not counted", extra={"error": type(error).__name__})
            return None

    def count_pending_mail(self) -> int | None:
        """Count the mail jobs waiting in the outbox, or None when the database does not answer."""
        try:
            return self._auth.outbox.pending()
        except Exception as error:  # a scrape must not fail because the database does
            logger.warning("pending mail not counted", extra={"error": type(error).__name__})
            return None

    def oldest_mail_wait(self) -> float | None:
        """Return the seconds the oldest waiting mail job has waited (0: none waits), or None
        when the database does not answer."""
        try:
            return self._auth.outbox.oldest_wait().total_seconds()
        except Exception as error:  # a scrape must not fail because the database does
            logger.warning("oldest mail not found", extra={"error": type(error).__name__})
            return None

    def on_mail_failure(self, listener: Callable[[], object]) -> None:
        """Call `listener` after each failed mail send, on the outbox's sender thread."""
        self._auth.outbox.on_failure(listener)

    def on_pruned(self, listener: Callable[[str, int], object]) -> None:
        """Call `listener(kind, count)` after each janitor batch that deleted rows."""
        self._auth.janitor.on_pruned(listener)

    def _ping_redis(self) -> None:
        assert self._redis_url is not None  # noqa: S101 - checked by the caller
        import redis  # only where Redis is configured: it costs a worker several MB

        client = redis.Redis.from_url(
            self._redis_url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        with client:
            client.ping()

    @staticmethod
    def _answers(name: str, probe: Callable[[], object]) -> bool:
        try:
            probe()
        except Exception as error:  # whatever the failure, the dependency is not ready
            # The type only: driver messages can quote the URL, and with it a password.
            logger.warning(
                "dependency down",
                extra={
                    "dependency": name,
                    "error": type(error).__name__,
                    "cause": outage_cause(error),
                },
            )
            return False
        return True


class _RequestObserver:
    """Give each request its id, then count it and write its one access-log line.

    A WSGI wrapper rather than Flask hooks, so a hook that answers early (the rate limiter)
    or an error still gets an id, a duration and a line; the route is left in the environ by
    _remember_route, a teardown hook, since Flask's request is gone by the time this ends.
    """

    def __init__(self, wsgi_app: WSGIApplication, metrics: Metrics) -> None:
        self._wsgi_app = wsgi_app
        self._metrics = metrics
        self._ids = RequestIds()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = self._ids.accepted(environ.get("HTTP_X_REQUEST_ID"))
        statuses: list[str] = []

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            statuses.append(status)
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        token = logs.request_id.set(request_id)
        try:
            answer = self._wsgi_app(environ, start)
        except BaseException:
            statuses.append("500")  # propagated (debug, testing): still one line
            raise
        finally:
            logs.request_id.reset(token)
            # The last status, since start_response is called again for an error; none at
            # all would be a broken app, so a 500.
            status = int(statuses[-1][:3]) if statuses else 500
            self._finish(environ, request_id, status, time.perf_counter() - started)
        return answer

    def _finish(
        self, environ: WSGIEnvironment, request_id: str, status: int, seconds: float
    ) -> None:
        served: tuple[str, str, str] | None = environ.pop(_SERVED_KEY, None)
        if served is not None:
            route, method, path = served
        else:  # Flask never saw it (a middleware answered, or the app failed before routing)
            route = UNMATCHED_ROUTE
            method, path = environ.get("REQUEST_METHOD", "").upper(), environ.get("PATH_INFO", "")
        self._metrics.observe(route, method, status, seconds, environ.get(LOGIN_OUTCOME_KEY))
        # The path only: query strings, cookies and bodies can carry passwords and tokens.
        fields = {
            "request_id": request_id,
            "method": method[:MAX_LOGGED_METHOD],
            "path": path[:MAX_LOGGED_PATH],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": environ.get("REMOTE_ADDR"),
        }
        level = logging.ERROR if status >= 500 else logging.INFO
        logs.log_fields(access_log, level, "request", fields)


class _Observability:
    def __init__(self, settings: Settings, auth: Auth) -> None:
        self.dependencies = Dependencies(settings, auth)
        self.metrics = Metrics(self.dependencies, settings.server.metrics_dir)
        self.metrics_token = settings.server.metrics_token

    def may_scrape(self, authorization: str | None) -> bool:
        """Tell whether a request with this Authorization header may read /metrics."""
        if self.metrics_token is None:
            return True
        scheme, _, credentials = (authorization or "").partition(" ")
        # Constant time: a comparison that stops at the first wrong byte would let the
        # token be guessed a byte at a time (OWASP ASVS 4.0.3 V2.9).
        expected = self.metrics_token.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(errors="surrogateescape"), expected
        )


def _state() -> _Observability:
    state: _Observability = current_app.extensions["userauth.observability"]
    return state


@operations.get("/healthz")
@operations.output(Status, description="Alive.")
def healthz() -> Response:
    """Answer while the process can serve requests; no dependency is checked."""
    return jsonify(status="ok")


@operations.get("/readyz")
@operations.output(Status, description="Ready.")
@operations.doc(responses=responses({503: json_answer("Something is down.", Unavailable)}))
def readyz() -> Response:
    """Answer 200 when every dependency answers, else 503 naming those that do not."""
    down = _state().dependencies.down()
    if not down:
        return jsonify(status="ok")
    # A Response, not a (body, status) pair: APIFlask would dump a pair's body as a Status.
    response = jsonify(message=f"unavailable: {', '.join(down)}", down=down)
    response.status_code = 503
    return response


@operations.get("/metrics")
@operations.doc(
    security=METRICS_TOKEN_SCHEME,
    responses=responses(
        {
            200: {
                "description": "The Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            401: "USERAUTH_METRICS_TOKEN is set and the request does not carry it.",
        }
    ),
)
def metrics() -> Response:
    """Expose the metrics in Prometheus's text format (with the bearer token, when one is set)."""
    state = _state()
    if not state.may_scrape(request.headers.get("Authorization")):
        response = jsonify(message="metrics need the bearer token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="userauth metrics"'
        return response
    return Response(state.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})


def record_route(environ: WSGIEnvironment, route: str, method: str, path: str) -> None:
    """Name the request's route for its log line and metrics (the WSGI wrapper reads it)."""
    environ[_SERVED_KEY] = (route, method, path)


def _remember_route(current: Request, _error: BaseException | None) -> None:
    """Leave the request's URL rule, method and path in the environ for _RequestObserver."""
    rule = current.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    record_route(current.environ, route, current.method, current.path)


def install_observability(app: Flask, settings: Settings, auth: Auth) -> None:
    """Add request ids, the JSON access log, /healthz, /readyz and /metrics to the app."""
    state = app.extensions["userauth.observability"] = _Observability(settings, auth)
    request_hooks(app).teardown(_remember_route)
    app.wsgi_app = _RequestObserver(app.wsgi_app, state.metrics)  # type: ignore[method-assign]
    app.register_blueprint(operations)
