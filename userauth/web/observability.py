"""Operations: request ids, the access log, health and readiness, and Prometheus metrics."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar
from uuid import uuid4

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from userauth import logs, tokens
from userauth.db import DB
from userauth.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

T = TypeVar("T")

REQUEST_ID_HEADER = "X-Request-ID"
# Visible ASCII only: an id goes into every log line, so no spaces, control characters or
# line breaks that could forge a line (log injection).
_VALID_REQUEST_ID = re.compile(r"[!-~]{1,128}")
_REQUEST_ID_KEY = "userauth.request_id"
_STARTED_KEY = "userauth.started"
# Paths are logged, and a client chooses them: cap what one line can carry.
MAX_LOGGED_PATH = 512
UNMATCHED_ROUTE = "<unmatched>"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The login route's statuses, as the outcomes the metric counts; other statuses (bad input)
# are not login attempts.
LOGIN_OUTCOMES = {200: "success", 401: "failure", 429: "limited"}
# Seconds a readiness probe waits for Redis before calling it down.
REDIS_TIMEOUT = 2.0

access_log = logging.getLogger("userauth.access")
logger = logging.getLogger(__name__)
operations = Blueprint("operations", __name__)


def accepted_request_id(candidate: str | None) -> str:
    """Return the client's request id when it is safe to log, else a new one."""
    if candidate is not None and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return uuid4().hex


class _RequestIdMiddleware:
    """Stamp each request with its id and start time before any Flask hook runs.

    A WSGI wrapper rather than a before_request hook, so a hook that answers early (the rate
    limiter) still gets an id, a duration and a log line.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self._wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = accepted_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[_REQUEST_ID_KEY] = request_id
        environ[_STARTED_KEY] = time.perf_counter()
        token = logs.request_id.set(request_id)
        try:
            return self._wsgi_app(environ, start_response)
        finally:
            logs.request_id.reset(token)


class Dependencies:
    """The services a ready app needs: the database, and Redis when configured.

    The probes open their own connections, so a database that was down when the app
    started is found again once it is back, and none is held between probes.
    """

    def __init__(self, settings: Settings) -> None:
        self._database_url = settings.database_url
        self._redis_url = settings.redis_url
        self._idle_timeout = settings.session_idle_timeout
        self._db: DB | None = None
        self._lock = threading.Lock()

    def down(self) -> list[str]:
        """Name each dependency that does not answer now."""
        failed = []
        if not self._answers("database", lambda: self._with_database(DB.ping)):
            failed.append("database")
        if self._redis_url is not None and not self._answers("redis", self._ping_redis):
            failed.append("redis")
        return failed

    def count_live_sessions(self) -> int | None:
        """Count live device sessions, or None when the database does not answer."""
        now = tokens.utcnow()
        idle_since = now - self._idle_timeout
        try:
            return self._with_database(lambda db: db.count_live_sessions(now, idle_since))
        except Exception as error:  # a scrape must not fail because the database does
            logger.warning("active sessions not counted", extra={"error": type(error).__name__})
            return None

    def _with_database(self, use: Callable[[DB], T]) -> T:
        """Run `use` on the probe's DB, then close its connections.

        Probes are seconds apart: a fresh connection each time tests what a new request
        would meet, and no idle connection is left behind. The lock serialises probes so
        that one never closes a connection another is using.
        """
        with self._lock:
            if self._db is None:
                self._db = DB(self._database_url)
            try:
                return use(self._db)
            finally:
                self._db.close()

    def _ping_redis(self) -> None:
        assert self._redis_url is not None  # noqa: S101 - checked by the caller
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
                "dependency down", extra={"dependency": name, "error": type(error).__name__}
            )
            return False
        return True


class _ActiveSessions(Collector):
    """The live-session gauge, counted in the database at each scrape."""

    def __init__(self, dependencies: Dependencies) -> None:
        self._dependencies = dependencies

    def collect(self) -> Iterator[Metric]:
        count = self._dependencies.count_live_sessions()
        if count is not None:
            yield GaugeMetricFamily(
                "userauth_active_sessions", "Device sessions neither expired nor idle.", count
            )


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app, so per worker)."""

    def __init__(self, dependencies: Dependencies) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "userauth_http_requests",
            "HTTP requests answered, by route (URL rule), method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "userauth_http_request_duration_seconds",
            "Time to answer an HTTP request, by route (URL rule) and method.",
            ["route", "method"],
            registry=self.registry,
        )
        self.logins = Counter(
            "userauth_logins",
            "Login attempts (POST /sessions) by outcome: success, failure, limited.",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_ActiveSessions(dependencies))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if route == "/sessions" and method == "POST" and status in LOGIN_OUTCOMES:
            self.logins.labels(LOGIN_OUTCOMES[status]).inc()


class _Observability:
    def __init__(self, settings: Settings) -> None:
        self.dependencies = Dependencies(settings)
        self.metrics = Metrics(self.dependencies)


def _state() -> _Observability:
    state: _Observability = current_app.extensions["userauth.observability"]
    return state


def _finish_request(response: Response) -> Response:
    """Echo the request id, count the request and write its one access-log line."""
    environ = request.environ
    request_id = environ.get(_REQUEST_ID_KEY) or accepted_request_id(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    seconds = time.perf_counter() - environ.get(_STARTED_KEY, time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    _state().metrics.observe(route, request.method, response.status_code, seconds)
    # The path only: query strings, cookies and bodies can carry passwords and tokens.
    access_log.log(
        logging.ERROR if response.status_code >= 500 else logging.INFO,
        "request",
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.path[:MAX_LOGGED_PATH],
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "client": request.remote_addr,
        },
    )
    return response


@operations.get("/healthz")
def healthz() -> Response:
    """Answer while the process can serve requests; no dependency is checked."""
    return jsonify(status="ok")


@operations.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when every dependency answers, else 503 naming those that do not."""
    down = _state().dependencies.down()
    if down:
        return jsonify(message=f"unavailable: {', '.join(down)}", down=down), 503
    return jsonify(status="ok"), 200


@operations.get("/metrics")
def metrics() -> Response:
    """Expose the metrics in Prometheus's text format."""
    body = generate_latest(_state().metrics.registry)
    return Response(body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def install_observability(app: Flask, settings: Settings) -> None:
    """Add request ids, the JSON access log, /healthz, /readyz and /metrics to the app."""
    app.extensions["userauth.observability"] = _Observability(settings)
    app.wsgi_app = _RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(_finish_request)
    app.register_blueprint(operations)
