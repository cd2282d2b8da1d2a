"""Operations: request ids, the access log, health and readiness, and Prometheus metrics."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from apiflask import APIBlueprint
from flask import Flask, Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from userauth import logs
from userauth.auth import Auth
from userauth.db.outages import outage_cause
from userauth.settings import Settings
from userauth.web.schemas import Status, Unavailable, json_answer, responses

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
# The methods a metric names; any other token a client sends is counted as OTHER.
METRIC_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
OTHER_METHOD = "OTHER"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The login route's statuses, as the outcomes the metric counts; other statuses (bad input)
# are not login attempts.
LOGIN_OUTCOMES = {200: "success", 401: "failure", 429: "limited"}
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


def metric_method(method: str) -> str:
    """Return the method as a metric label: itself when standard, else OTHER."""
    # A client chooses the token, and each new label value is a series kept for the life of
    # the worker: unbounded values would let anyone exhaust its memory through /metrics.
    return method if method in METRIC_METHODS else OTHER_METHOD


class Dependencies:
    """The services a ready app needs: the database, and Redis when configured.

    The database is probed through the app's own Auth and engine, so a probe tests what a
    request would meet and never migrates: with a committed write that changes nothing
    (DB.probe_write), so a database that answers reads but refuses writes (a read-only file,
    a full disk, a lock held past the busy timeout, a read-only server) is not ready either.
    Redis through a connection of the probe's own.
    """

    def __init__(self, settings: Settings, auth: Auth) -> None:
        self._redis_url = settings.redis_url
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

    @property
    def mail_failures(self) -> int:
        """Mail sends that failed in this process."""
        return self._auth.outbox.failures

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


class _Mail(Collector):
    """The outbox's failed sends (this worker's) and the mail waiting (every worker's)."""

    def __init__(self, dependencies: Dependencies) -> None:
        self._dependencies = dependencies

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "userauth_mail_failures",
            "Mail sends that failed (each is retried with backoff, then given up).",
            self._dependencies.mail_failures,
        )
        pending = self._dependencies.count_pending_mail()
        if pending is not None:
            yield GaugeMetricFamily(
                "userauth_mail_pending", "Mail jobs waiting in the outbox to be sent.", pending
            )


# A request's metric children: its count, its latency, and its login outcome if a login.
_Children = tuple[Counter, Histogram, Counter | None]


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
        self.registry.register(_Mail(dependencies))
        # .labels() costs more than the update itself: each request's children are looked up
        # once. Bounded: routes are URL rules, methods are folded, statuses come from our code.
        self._children: dict[tuple[str, str, int], _Children] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request; `route` is a URL rule or UNMATCHED_ROUTE."""
        method = metric_method(method)
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._children_for(route, method, status)
        count, latency, login = children
        count.inc()
        latency.observe(seconds)
        if login is not None:
            login.inc()

    def _children_for(self, route: str, method: str, status: int) -> _Children:
        login = None
        if route == "/sessions" and method == "POST" and status in LOGIN_OUTCOMES:
            login = self.logins.labels(LOGIN_OUTCOMES[status])
        return (
            self.requests.labels(route, method, str(int(status))),
            self.latency.labels(route, method),
            login,
        )


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
        self._metrics.observe(route, method, status, seconds)
        # The path only: query strings, cookies and bodies can carry passwords and tokens.
        fields = {
            "request_id": request_id,
            "method": method[:MAX_LOGGED_METHOD],
            "path": path[:MAX_LOGGED_PATH],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": environ.get("REMOTE_ADDR"),
        }
        access_log.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra=fields)


class _Observability:
    def __init__(self, settings: Settings, auth: Auth) -> None:
        self.dependencies = Dependencies(settings, auth)
        self.metrics = Metrics(self.dependencies)


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
    responses=responses(
        {
            200: {
                "description": "The Prometheus text format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    )
)
def metrics() -> Response:
    """Expose the metrics in Prometheus's text format."""
    body = generate_latest(_state().metrics.registry)
    return Response(body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def _remember_route(_error: BaseException | None) -> None:
    """Leave the request's URL rule, method and path in the environ for _RequestObserver."""
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    request.environ[_SERVED_KEY] = (route, request.method, request.path)


def install_observability(app: Flask, settings: Settings, auth: Auth) -> None:
    """Add request ids, the JSON access log, /healthz, /readyz and /metrics to the app."""
    state = app.extensions["userauth.observability"] = _Observability(settings, auth)
    app.teardown_request(_remember_route)
    app.wsgi_app = _RequestObserver(app.wsgi_app, state.metrics)  # type: ignore[method-assign]
    app.register_blueprint(operations)
