"""Prometheus metrics: what each request counts, and the registry a scrape of /metrics reads.

An app built in a process of its own (a test, `create_app`) counts alone, in a registry of
its own. Under a server whose workers share a metrics directory (Settings.server.metrics_dir, which
`userauth serve` sets), each worker writes its counts to files of its own there and a scrape
sums the files of every worker, those of workers that have exited included: the counts are
the whole server's, whichever worker answers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from flask import request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from userauth.credentials import LoginOutcome


class Dependencies(Protocol):
    """What the metrics read of the app's services (observability.Dependencies provides it)."""

    def count_live_sessions(self) -> int | None:
        """Count live device sessions, or None when the database does not answer."""

    def count_pending_mail(self) -> int | None:
        """Count mail waiting in the outbox, or None when the database does not answer."""

    def oldest_mail_wait(self) -> float | None:
        """Return the seconds the oldest waiting mail has waited, or None (no database)."""

    def on_mail_failure(self, listener: Callable[[], object]) -> None:
        """Call `listener` after each failed mail send."""

    def on_pruned(self, listener: Callable[[str, int], object]) -> None:
        """Call `listener(kind, count)` after each janitor batch that deleted rows."""


# The methods a metric names; any other token a client sends is counted as OTHER.
METRIC_METHODS = frozenset(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
OTHER_METHOD = "OTHER"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Where a login route leaves the domain's outcome for the metric (record_login_outcome): a
# right password that needs a second factor is its own outcome, not a failure.
LOGIN_OUTCOME_KEY = "userauth.login_outcome"
OUTCOME_LABELS = {
    LoginOutcome.SUCCEEDED: "success",
    LoginOutcome.FAILED: "failure",
    LoginOutcome.SECOND_FACTOR_REQUIRED: "second_factor_required",
    LoginOutcome.EMAIL_NOT_VERIFIED: "email_not_verified",
}
# The login routes; a 429 there (the limiter answered, the domain never ran) is "limited".
LOGIN_ROUTES = frozenset({"/sessions", "/sessions/second-factor"})
LIMITED = "limited"


def record_login_outcome(outcome: LoginOutcome) -> None:
    """Leave this request's login outcome for the metrics (read when it is answered)."""
    request.environ[LOGIN_OUTCOME_KEY] = OUTCOME_LABELS[outcome]


def metric_method(method: str) -> str:
    """Return the method as a metric label: itself when standard, else OTHER."""
    # A client chooses the token, and each new label value is a series kept for the life of
    # the worker: unbounded values would let anyone exhaust its memory through /metrics.
    return method if method in METRIC_METHODS else OTHER_METHOD


class _DatabaseGauges(Collector):
    """The gauges counted in the database at each scrape: one value for the whole server."""

    def __init__(self, dependencies: Dependencies) -> None:
        self._dependencies = dependencies

    def collect(self) -> Iterator[Metric]:
        sessions = self._dependencies.count_live_sessions()
        if sessions is not None:
            yield GaugeMetricFamily(
                "userauth_active_sessions", "Device sessions neither expired nor idle.", sessions
            )
        pending = self._dependencies.count_pending_mail()
        if pending is not None:
            yield GaugeMetricFamily(
                "userauth_mail_pending", "Mail jobs waiting in the outbox to be sent.", pending
            )
        waited = self._dependencies.oldest_mail_wait()
        if waited is not None:
            yield GaugeMetricFamily(
                "userauth_mail_oldest_pending_seconds",
                "How long the oldest mail job in the outbox has waited (0: none); it grows "
                "through a mail outage.",
                waited,
            )


# A request's metric children: its count and its latency.
_Children = tuple[Counter, Histogram]


class Metrics:
    """The app's counters, and the registry a scrape reads: this app's, or every worker's.

    Shared, a worker builds one app: two in one process would write the same file entries
    over each other.
    """

    def __init__(self, dependencies: Dependencies, shared_dir: str | None) -> None:
        # Shared, the counters live in this worker's files and are read through them: in a
        # registry too, a scrape would export this worker's values beside the sum.
        own = CollectorRegistry() if shared_dir is None else None
        self.requests = Counter(
            "userauth_http_requests",
            "HTTP requests answered, by route (URL rule), method and status.",
            ["route", "method", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "userauth_http_request_duration_seconds",
            "Time to answer an HTTP request, by route (URL rule) and method.",
            ["route", "method"],
            registry=own,
        )
        self.logins = Counter(
            "userauth_logins",
            "Login attempts (POST /sessions, POST /sessions/second-factor) by outcome: success, "
            "failure, second_factor_required, limited.",
            ["outcome"],
            registry=own,
        )
        self.mail_failures = Counter(
            "userauth_mail_failures",
            "Mail sends that failed (each is retried with backoff, then given up).",
            registry=own,
        )
        dependencies.on_mail_failure(self.mail_failures.inc)
        self.pruned = Counter(
            "userauth_janitor_removed",
            "Rows the janitor deleted, by kind (sessions, one_time_secrets, mail_jobs, "
            "audit_events, ...).",
            ["kind"],
            registry=own,
        )
        dependencies.on_pruned(lambda kind, count: self.pruned.labels(kind).inc(count))
        self.registry = CollectorRegistry() if own is None else own
        if shared_dir is not None:
            # prometheus_client leaves this constructor unannotated.
            MultiProcessCollector(self.registry, path=shared_dir)  # type: ignore[no-untyped-call]
        self.registry.register(_DatabaseGauges(dependencies))
        # .labels() costs more than the update itself: each request's children are looked up
        # once. Bounded: routes are URL rules, methods are folded, statuses come from our code.
        self._children: dict[tuple[str, str, int], _Children] = {}

    def observe(
        self,
        route: str,
        method: str,
        status: int,
        seconds: float,
        login_outcome: str | None = None,
    ) -> None:
        """Count one answered request; `route` is a URL rule, `seconds` its duration,
        `login_outcome` what the domain said of a login (record_login_outcome)."""
        method = metric_method(method)
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._children_for(route, method, status)
        count, latency = children
        count.inc()
        latency.observe(seconds)
        if login_outcome is None and status == 429 and route in LOGIN_ROUTES:
            login_outcome = LIMITED
        if login_outcome is not None:
            self.logins.labels(login_outcome).inc()

    def exposition(self) -> bytes:
        """Return every metric in Prometheus's text format (CONTENT_TYPE)."""
        return generate_latest(self.registry)

    def _children_for(self, route: str, method: str, status: int) -> _Children:
        return (
            self.requests.labels(route, method, str(int(status))),
            self.latency.labels(route, method),
        )
