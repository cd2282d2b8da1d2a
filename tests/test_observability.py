"""Issue 5 item 4: the JSON request log, request ids, /healthz, /readyz and /metrics."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event, inspect

from tests.conftest import TEST_SECURITY, FakeClock, free_port, need_service
from userauth import logs
from userauth.auth import Auth
from userauth.db import DB
from userauth.logs import JsonFormatter, StderrHandler
from userauth.settings import (
    DatabaseSettings,
    RateLimitSettings,
    Section,
    ServerSettings,
    Settings,
    SettingsError,
)
from userauth.web import create_app

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL"); the tests marked databases("sqlite", "postgres") below run on both.
pytestmark = pytest.mark.databases("sqlite")

EMAIL = "guillaume@holberton.io"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"
# What every access-log line holds (issue 5 item 4).
ACCESS_FIELDS = frozenset(
    ["time", "level", "event", "request_id", "method", "path", "status", "duration_ms", "client"]
)


def log_lines(captured: str) -> list[dict[str, Any]]:
    """Parse every line written to stderr; each must be one JSON object."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def access_lines(captured: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(captured) if line.get("logger") == "userauth.access"]


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session_id")
    assert cookie is not None
    return cookie.value


def run_contract_scenario(client: FlaskClient) -> list[str]:
    """Run SPEC.md B's nine steps; return the clear secrets they handled."""
    assert client.post("/users", data={"email": EMAIL, "password": PASSWORD}).status_code == 200
    assert (
        client.post("/sessions", data={"email": EMAIL, "password": NEW_PASSWORD}).status_code
        == 401
    )
    assert client.get("/profile").status_code == 403
    assert client.post("/sessions", data={"email": EMAIL, "password": PASSWORD}).status_code == 200
    session_id = session_cookie(client)
    assert client.get("/profile").json == {"email": EMAIL}
    ended = client.delete("/sessions", follow_redirects=True)
    assert ended.json == {"message": "Bienvenue"}
    reset = client.post("/reset_password", data={"email": EMAIL})
    token = reset.json["reset_token"]  # type: ignore[index]
    changed = client.put(
        "/reset_password",
        data={"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    logged_in = client.post("/sessions", data={"email": EMAIL, "password": NEW_PASSWORD})
    assert logged_in.status_code == 200
    return [PASSWORD, NEW_PASSWORD, token, session_id, session_cookie(client)]


def metric_value(client: FlaskClient, name: str, **labels: str) -> float | None:
    """Scrape /metrics and return one sample's value, or None when it is absent."""
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


class TestRequestLog:
    @pytest.mark.parametrize("level", ["INFO", "DEBUG"], ids=["info", "debug"])
    def test_contract_scenario_leaks_no_password_token_or_session_id(
        self, make_auth: Callable[..., Auth], capsys: pytest.CaptureFixture[str], level: str
    ) -> None:
        auth = make_auth(ServerSettings(log_level=level))
        client = create_app(auth.settings, auth).test_client()
        secrets = run_contract_scenario(client)
        captured = capsys.readouterr().err
        assert access_lines(captured), "the scenario wrote no request log"
        for secret in secrets:
            assert secret not in captured

    def test_contract_scenario_writes_one_json_line_per_request(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        run_contract_scenario(client)
        lines = access_lines(capsys.readouterr().err)
        # Nine steps, plus the GET / that the logout redirects to.
        assert [(line["method"], line["path"], line["status"]) for line in lines] == [
            ("POST", "/users", 200),
            ("POST", "/sessions", 401),
            ("GET", "/profile", 403),
            ("POST", "/sessions", 200),
            ("GET", "/profile", 200),
            ("DELETE", "/sessions", 302),
            ("GET", "/", 200),
            ("POST", "/reset_password", 200),
            ("PUT", "/reset_password", 200),
            ("POST", "/sessions", 200),
        ]
        for line in lines:
            assert set(line) >= ACCESS_FIELDS
            assert line["event"] == "request"
            assert line["level"] == "info"
            assert datetime.fromisoformat(line["time"]).tzinfo is not None
            assert isinstance(line["duration_ms"], float | int)
            assert line["duration_ms"] >= 0

    def test_path_is_logged_without_its_query_string(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        client.get("/profile?reset_token=hunter2-in-a-query")
        captured = capsys.readouterr().err
        assert access_lines(captured)[-1]["path"] == "/profile"
        assert "hunter2-in-a-query" not in captured

    def test_level_above_info_writes_no_request_line_but_still_counts(
        self, make_auth: Callable[..., Auth], capsys: pytest.CaptureFixture[str]
    ) -> None:
        auth = make_auth(ServerSettings(log_level="WARNING"))
        client = create_app(auth.settings, auth).test_client()
        capsys.readouterr()
        client.get("/")
        assert access_lines(capsys.readouterr().err) == []
        labels = {"route": "/", "method": "GET", "status": "200"}
        assert metric_value(client, "userauth_http_requests_total", **labels) == 1

    def test_unhandled_error_writes_one_error_line(
        self, app: Flask, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def fail() -> str:
            raise RuntimeError("boom")

        app.add_url_rule("/fail", view_func=fail)
        response = app.test_client().get("/fail", headers={"X-Request-ID": "failing-1"})
        assert response.status_code == 500
        (line,) = access_lines(capsys.readouterr().err)
        assert (line["path"], line["status"], line["level"]) == ("/fail", 500, "error")
        assert line["request_id"] == "failing-1"

    def test_unknown_method_is_logged_as_sent(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        assert client.open("/", method="FOOBAR").status_code == 405
        assert access_lines(capsys.readouterr().err)[-1]["method"] == "FOOBAR"

    def test_client_address_is_logged(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert access_lines(capsys.readouterr().err)[-1]["client"] == "203.0.113.7"

    def test_a_handler_an_operator_adds_gets_each_request_as_a_record_with_its_fields(
        self, client: FlaskClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level("INFO", logger="userauth.access"):
            client.get("/", headers={"X-Request-ID": "seen-by-caplog"})
        (record,) = [record for record in caplog.records if record.name == "userauth.access"]
        fields = record.__dict__
        assert (record.getMessage(), fields["request_id"], fields["status"]) == (
            "request",
            "seen-by-caplog",
            200,
        )


class TestLogWriter:
    def test_lines_written_at_once_by_many_threads_arrive_whole_and_all(
        self, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The process's own stderr, and userauth's handler alone, as in a server worker.
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        logger = logging.getLogger("userauth.test-writer")
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        monkeypatch.setattr(logger, "propagate", False)
        try:
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda n: logger.warning("line", extra={"n": n, "pad": "x" * 900}),
                        range(400),
                    )
                )
        finally:
            logger.removeHandler(handler)
        numbers = [json.loads(line)["n"] for line in capfd.readouterr().err.splitlines()]
        assert sorted(numbers) == list(range(400))

    def test_a_line_logged_without_a_record_is_the_line_its_record_formats_to(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The server's setup: userauth's handler alone on the root logger (pytest adds its own).
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
        made: list[logging.LogRecord] = []
        factory = logging.getLogRecordFactory()

        def counted(*args: Any, **kwargs: Any) -> logging.LogRecord:
            made.append(factory(*args, **kwargs))
            return made[-1]

        logging.setLogRecordFactory(counted)
        logger = logging.getLogger("userauth.test-direct")
        logger.setLevel(logging.INFO)
        # A path a client chose: a quote, a backslash, a line break, a non-ASCII letter.
        fields = {"method": "GET", "path": '/a"b\\c\n\u00e9', "status": 200, "ms": 1.5, "ip": None}
        try:
            capsys.readouterr()
            logs.log_fields(logger, logging.INFO, "request", fields)
            (direct,) = capsys.readouterr().err.splitlines()
        finally:
            logging.setLogRecordFactory(factory)
            logger.setLevel(logging.NOTSET)
        assert made == []
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
        )
        timeless = re.compile(r'"time": "[^"]*"')
        formatted = JsonFormatter().format(record)
        assert timeless.sub("", direct) == timeless.sub("", formatted)
        assert datetime.fromisoformat(json.loads(direct)["time"]).tzinfo is not None

    @pytest.mark.parametrize(
        "created",
        [1765131404.0, 1765131404.7321234, 1765131404.9999996, 1765131404.0004995, 0.5],
        ids=["whole", "within", "rounds-up-a-second", "half-a-microsecond", "epoch"],
    )
    def test_a_lines_time_is_its_records_in_utc_to_the_millisecond(self, created: float) -> None:
        record = logging.makeLogRecord({"msg": "event", "created": created})
        written = json.loads(JsonFormatter().format(record))["time"]
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert written == expected


class TestRequestId:
    def test_made_when_the_client_sends_none_and_echoed(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        response = client.get("/")
        request_id = response.headers["X-Request-ID"]
        assert len(request_id) == 32
        int(request_id, 16)
        assert access_lines(capsys.readouterr().err)[-1]["request_id"] == request_id

    def test_each_request_gets_a_new_one(self, client: FlaskClient) -> None:
        ids = {client.get("/").headers["X-Request-ID"] for _ in range(3)}
        assert len(ids) == 3

    def test_a_forked_worker_makes_ids_of_its_own(self, client: FlaskClient) -> None:
        client.get("/")  # the parent has begun its series
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:  # the worker gunicorn would fork: report its next id, then leave
            status = 1
            try:
                os.write(writer, client.get("/").headers["X-Request-ID"].encode())
                status = 0
            finally:
                os._exit(status)  # never back into pytest, whatever happened
        os.close(writer)
        parents_next = client.get("/").headers["X-Request-ID"]
        _, status = os.waitpid(child, 0)
        with os.fdopen(reader) as pipe:
            childs_next = pipe.read()
        assert os.waitstatus_to_exitcode(status) == 0
        assert len(childs_next) == 32
        assert childs_next != parents_next

    def test_an_id_tells_nothing_of_how_many_requests_came_before(
        self, client: FlaskClient
    ) -> None:
        first, second = (client.get("/").headers["X-Request-ID"] for _ in range(2))
        # A counter would show in the low digits; a keyed hash changes them all, or nearly.
        differing = sum(a != b for a, b in zip(first, second, strict=True))
        assert differing > 16

    def test_clients_id_is_kept_echoed_and_logged(
        self, client: FlaskClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        response = client.get("/", headers={"X-Request-ID": "lb-7f3a.42_x"})
        assert response.headers["X-Request-ID"] == "lb-7f3a.42_x"
        assert access_lines(capsys.readouterr().err)[-1]["request_id"] == "lb-7f3a.42_x"

    def test_rate_limited_answer_still_carries_one(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth(RateLimitSettings(login="1/minute"))
        client = create_app(auth.settings, auth).test_client()
        form = {"email": EMAIL, "password": PASSWORD}
        client.post("/sessions", data=form)
        limited = client.post("/sessions", data=form, headers={"X-Request-ID": "retry-1"})
        assert limited.status_code == 429
        assert limited.headers["X-Request-ID"] == "retry-1"

    @pytest.mark.parametrize(
        "sent",
        [
            "a" * 129,
            "two words",
            "caf\u00e9",
            "tab\there",
            "",
            "<script>alert(1)</script>",
            "a:b",
            '"quoted"',
            "line%0Abreak",
        ],
        ids=[
            "too-long",
            "space",
            "non-ascii",
            "control-character",
            "empty",
            "markup",
            "colon",
            "quotes",
            "percent",
        ],
    )
    def test_unsafe_client_id_is_replaced(self, client: FlaskClient, sent: str) -> None:
        echoed = client.get("/", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
        assert echoed != sent
        assert len(echoed) == 32

    def test_longest_accepted_id_is_128_characters(self, client: FlaskClient) -> None:
        sent = "r" * 128
        assert client.get("/", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


def unreachable_postgres() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"


def unreachable_sqlite() -> str:
    return f"sqlite:///{Path.cwd() / 'no-such-folder' / 'nested' / 'users.db'}"


@pytest.fixture
def app_with(auth: Auth) -> Callable[..., Flask]:
    """Build an app with changed sections; a changed database gets an Auth of its own,
    since readiness probes the app's own engine."""

    def build(*sections: Section) -> Flask:
        settings = auth.settings.with_sections(*sections)
        if settings.database == auth.settings.database:
            return create_app(settings, auth)
        return create_app(settings, Auth(DB(settings.database.url), settings))

    return build


class TestHealthz:
    def test_answers_ok(self, client: FlaskClient) -> None:
        response = client.get("/healthz")
        assert (response.status_code, response.json) == (200, {"status": "ok"})

    def test_answers_ok_even_when_the_database_is_down(
        self, app_with: Callable[..., Flask]
    ) -> None:
        client = app_with(DatabaseSettings(url=unreachable_postgres())).test_client()
        assert client.get("/healthz").status_code == 200


# The probes read the database itself: both databases.
@pytest.mark.databases("sqlite", "postgres")
class TestReadyz:
    def test_ready_when_the_database_answers(self, client: FlaskClient) -> None:
        response = client.get("/readyz")
        assert (response.status_code, response.json) == (200, {"status": "ok"})

    @pytest.mark.parametrize(
        "unreachable_url",
        [unreachable_postgres, unreachable_sqlite],
        ids=["postgres-closed-port", "sqlite-unreachable-file"],
    )
    def test_not_ready_when_the_database_is_down(
        self, app_with: Callable[..., Flask], unreachable_url: Callable[[], str]
    ) -> None:
        response = app_with(DatabaseSettings(url=unreachable_url())).test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json == {"message": "unavailable: database", "down": ["database"]}

    def test_not_ready_when_redis_is_down(self, app_with: Callable[..., Flask]) -> None:
        client = app_with(
            RateLimitSettings(redis_url=f"redis://127.0.0.1:{free_port()}/5")
        ).test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json == {"message": "unavailable: redis", "down": ["redis"]}

    def test_names_both_when_both_are_down(self, app_with: Callable[..., Flask]) -> None:
        client = app_with(
            DatabaseSettings(url=unreachable_postgres()),
            RateLimitSettings(redis_url=f"redis://127.0.0.1:{free_port()}/5"),
        ).test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json["down"] == ["database", "redis"]  # type: ignore[index]

    @pytest.mark.redis
    def test_ready_when_redis_answers(self, app_with: Callable[..., Flask]) -> None:
        redis_url = need_service("Redis", "TEST_REDIS_URL")
        response = app_with(RateLimitSettings(redis_url=redis_url)).test_client().get("/readyz")
        assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.databases("sqlite", "postgres")
class TestProbesUseTheAppsEngine:
    def test_a_probe_on_an_empty_database_creates_no_table(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        settings = Settings(database=DatabaseSettings(url=url), security=TEST_SECURITY)
        auth = Auth(DB(url), settings)
        client = create_app(settings, auth).test_client()

        # Not ready: the write probe finds no table, as every request would (issue 12).
        assert client.get("/readyz").status_code == 503
        assert inspect(auth.db.engine).get_table_names() == []

    def test_the_probe_answers_on_the_apps_engine(self, auth: Auth, client: FlaskClient) -> None:
        reads: list[str] = []
        event.listen(auth.db.engine, "before_cursor_execute", lambda *args: reads.append(args[2]))
        assert client.get("/readyz").status_code == 200
        assert reads


class TestMetrics:
    def test_counts_requests_by_route_rule_and_status(self, client: FlaskClient) -> None:
        client.delete("/sessions/7")
        client.delete("/sessions/8")
        (rule,) = client.application.url_map.iter_rules("api.revoke_session")
        assert rule.rule.startswith("/sessions/<")
        labels = {"route": rule.rule, "method": "DELETE", "status": "403"}
        count = metric_value(client, "userauth_http_requests_total", **labels)
        assert count == 2

    def test_unknown_paths_share_one_route_label(self, client: FlaskClient) -> None:
        client.get("/no/such/page")
        client.get("/another")
        labels = {"route": "<unmatched>", "method": "GET", "status": "404"}
        assert metric_value(client, "userauth_http_requests_total", **labels) == 2

    def test_unknown_methods_share_one_label(self, client: FlaskClient) -> None:
        # A client chooses the method: each new label value would be a series kept forever.
        for method in ("FOOBAR", "PROPFIND", "X" * 100):
            client.open("/", method=method)
        text = client.get("/metrics").get_data(as_text=True)
        assert "FOOBAR" not in text
        assert "PROPFIND" not in text
        labels = {"route": "<unmatched>", "method": "OTHER", "status": "405"}
        assert metric_value(client, "userauth_http_requests_total", **labels) == 3
        name = "userauth_http_request_duration_seconds_count"
        assert metric_value(client, name, route="<unmatched>", method="OTHER") == 3

    @pytest.mark.parametrize(
        "method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"], ids=str.lower
    )
    def test_standard_methods_keep_their_label(self, client: FlaskClient, method: str) -> None:
        status = client.open("/no/such/page", method=method).status_code
        labels = {"route": "<unmatched>", "method": method, "status": str(status)}
        assert metric_value(client, "userauth_http_requests_total", **labels) == 1

    def test_records_latency_by_route(self, client: FlaskClient) -> None:
        client.get("/profile")
        name = "userauth_http_request_duration_seconds_count"
        assert metric_value(client, name, route="/profile", method="GET") == 1

    def test_counts_logins_by_outcome(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth(RateLimitSettings(login="3/minute"))
        client = create_app(auth.settings, auth).test_client()
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": NEW_PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": NEW_PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        outcomes = {
            outcome: metric_value(client, "userauth_logins_total", outcome=outcome)
            for outcome in ("success", "failure", "limited")
        }
        assert outcomes == {"success": 1, "failure": 2, "limited": 1}

    def test_bad_input_is_not_a_login_attempt(self, client: FlaskClient) -> None:
        client.post("/sessions", data={"email": EMAIL})
        assert metric_value(client, "userauth_logins_total", outcome="failure") is None

    def test_active_sessions_are_counted_at_scrape_time(self, client: FlaskClient) -> None:
        assert metric_value(client, "userauth_active_sessions") == 0
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        other = client.application.test_client()
        for device in (client, other):
            device.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert metric_value(client, "userauth_active_sessions") == 2
        other.delete("/sessions")
        assert metric_value(client, "userauth_active_sessions") == 1

    @pytest.mark.parametrize("hours", [1, 9], ids=["idle", "past-lifetime"])
    def test_sessions_that_are_no_longer_live_are_not_active(
        self, client: FlaskClient, clock: FakeClock, hours: int
    ) -> None:
        # The gauge applies the session check's own rule and clock (Sessions.count_live).
        client.post("/users", data={"email": EMAIL, "password": PASSWORD})
        client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
        assert metric_value(client, "userauth_active_sessions") == 1
        clock.advance(hours=hours)
        assert metric_value(client, "userauth_active_sessions") == 0
        assert client.get("/profile").status_code == 403

    def test_each_app_counts_alone(self, auth: Auth) -> None:
        first = create_app(auth.settings, auth).test_client()
        second = create_app(auth.settings, auth).test_client()
        first.get("/")
        labels = {"route": "/", "method": "GET", "status": "200"}
        assert metric_value(first, "userauth_http_requests_total", **labels) == 1
        assert metric_value(second, "userauth_http_requests_total", **labels) is None

    def test_scrape_survives_a_database_that_is_down(self, app_with: Callable[..., Flask]) -> None:
        client = app_with(DatabaseSettings(url=unreachable_postgres())).test_client()
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain")
        assert metric_value(client, "userauth_active_sessions") is None


TOKEN = "a-metrics-token-for-tests-0123456789abcdef"


class TestMetricsToken:
    """Issue 21, item 9: /metrics can require a bearer token (USERAUTH_METRICS_TOKEN)."""

    @pytest.fixture
    def guarded(self, make_auth: Callable[..., Auth]) -> FlaskClient:
        auth = make_auth(ServerSettings(metrics_token=TOKEN))
        return create_app(auth.settings, auth).test_client()

    def test_without_a_token_set_metrics_stay_open(self, client: FlaskClient) -> None:
        assert client.get("/metrics").status_code == 200

    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "Bearer wrong-token",
            f"Bearer {TOKEN}x",
            f"Bearer {TOKEN[:-1]}",
            f"Basic {TOKEN}",
            TOKEN,
            "Bearer",
            "Bearer \udcff",
        ],
        ids=["none", "wrong", "longer", "shorter", "basic", "no-scheme", "empty", "not-utf8"],
    )
    def test_a_request_without_the_token_is_refused_with_a_challenge(
        self, guarded: FlaskClient, authorization: str | None
    ) -> None:
        headers = {} if authorization is None else {"Authorization": authorization}
        answer = guarded.get("/metrics", headers=headers)
        assert answer.status_code == 401
        assert answer.get_json() == {"message": "metrics need the bearer token"}
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "userauth_http_requests_total" not in answer.get_data(as_text=True)

    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
    def test_the_token_opens_the_metrics(self, guarded: FlaskClient, scheme: str) -> None:
        answer = guarded.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert answer.status_code == 200
        assert "userauth_http_requests_total" in answer.get_data(as_text=True)

    def test_a_short_token_is_refused_at_start_up_without_showing_it(self) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_METRICS_TOKEN") as refused:
            Settings.from_env({"USERAUTH_METRICS_TOKEN": "short-token"})
        assert "short-token" not in str(refused.value)

    def test_the_token_is_read_and_never_shown(self) -> None:
        settings = Settings.from_env({"USERAUTH_METRICS_TOKEN": TOKEN})
        assert settings.server.metrics_token == TOKEN
        assert TOKEN not in repr(settings)
