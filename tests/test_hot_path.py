"""The hot path: a cached session's `GET /profile` and gate check answered without Flask,
exactly as the Flask routes answer them, logged and counted like any request, and every
request it must not answer (no cache hit, a touch due, CORS, a query, HEAD) left to Flask.

Each answer of the app under test (session cache on) is compared with the answer of an app
on the same database with the cache off, which always takes the Flask route.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import TEST_SECURITY, FakeClock
from tests.test_session_cache import StatementCounter, warm
from userauth.auth import Auth
from userauth.settings import WebSettings
from userauth.web import create_app

PASSWORD = "h0t-path-pa55"
PLAIN = "hot@example.com"
# Outside the gate header's plain characters: the email header is percent-encoded.
QUOTED = "o'hara@example.com"


def log_in(auth: Auth, email: str) -> str:
    auth.register_user(email, PASSWORD)
    result = auth.login(email, PASSWORD)
    assert result.session_id is not None
    return result.session_id


def get(client: FlaskClient, path: str, session_id: str, **headers: str) -> TestResponse:
    client.set_cookie("session_id", session_id)
    return client.get(path, headers=headers)


def comparable(response: TestResponse) -> tuple[int, bytes, list[tuple[str, str]]]:
    """The answer as a client sees it, but for the request id, which is new each time."""
    headers = [(k, v) for k, v in response.headers.to_wsgi_list() if k != "X-Request-ID"]
    return response.status_code, response.data, headers


@pytest.fixture
def cold(make_auth: Callable[..., Auth]) -> FlaskClient:
    """A client of an app on the same database with no session cache: Flask answers all."""
    auth = make_auth(replace(TEST_SECURITY, session_cache_size=0))
    return create_app(auth.settings, auth).test_client()


@pytest.mark.parametrize("email", [PLAIN, QUOTED])
@pytest.mark.parametrize("path", ["/profile", "/auth/verify"])
def test_a_cached_sessions_answer_is_the_flask_routes_byte_for_byte(
    auth: Auth, client: FlaskClient, cold: FlaskClient, path: str, email: str
) -> None:
    session_id = log_in(auth, email)
    warm(auth, session_id)

    hot = get(client, path, session_id)

    assert comparable(hot) == comparable(get(cold, path, session_id))
    assert hot.status_code == 200
    assert hot.json is not None
    assert hot.json["email"] == email


def test_a_cached_answer_runs_no_sql_and_is_logged_and_counted(
    auth: Auth, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    session_id = log_in(auth, PLAIN)
    warm(auth, session_id)
    statements = StatementCounter(auth)
    try:
        with caplog.at_level("INFO", logger="userauth.access"):
            sql = statements.during(lambda: get(client, "/auth/verify", session_id))
    finally:
        statements.remove()

    assert sql == 0
    (line,) = [r for r in caplog.records if r.name == "userauth.access"]
    assert (line.method, line.path, line.status) == ("GET", "/auth/verify", 200)  # type: ignore[attr-defined]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'route="/auth/verify",status="200"' in metrics


@pytest.mark.parametrize("path", ["/profile", "/auth/verify"])
def test_a_session_ended_is_refused_at_once(auth: Auth, client: FlaskClient, path: str) -> None:
    session_id = log_in(auth, PLAIN)
    warm(auth, session_id)
    assert get(client, path, session_id).status_code == 200

    live = auth.resolve_session(session_id)
    assert live is not None
    auth.end_session(live)

    assert get(client, path, session_id).status_code in {401, 403}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/profile?x=1", {}),
        ("/auth/verify?redirect=true", {}),
        ("/auth/verify", {"Origin": "https://app.example.com"}),
        ("/profile", {"Origin": "https://app.example.com"}),
    ],
)
def test_requests_it_leaves_to_flask_answer_as_flask_does(
    make_auth: Callable[..., Auth],
    cold: FlaskClient,
    path: str,
    headers: dict[str, str],
) -> None:
    auth = make_auth(WebSettings(cors_origins=("https://app.example.com",)))
    cold_auth = make_auth(
        WebSettings(cors_origins=("https://app.example.com",)),
        replace(TEST_SECURITY, session_cache_size=0),
    )
    cold = create_app(cold_auth.settings, cold_auth).test_client()
    client = create_app(auth.settings, auth).test_client()
    session_id = log_in(auth, PLAIN)
    warm(auth, session_id)

    hot = get(client, path, session_id, **headers)

    assert comparable(hot) == comparable(get(cold, path, session_id, **headers))
    if "Origin" in headers and path == "/profile":  # the API's CORS; the gate has none
        assert hot.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_head_is_answered_by_flask_without_a_body(auth: Auth, client: FlaskClient) -> None:
    session_id = log_in(auth, PLAIN)
    warm(auth, session_id)
    client.set_cookie("session_id", session_id)

    answer = client.head("/profile")

    assert answer.status_code == 200
    assert answer.data == b""


def test_cached_answers_still_move_the_stored_idle_clock(
    auth: Auth, other_app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    session_id = log_in(auth, PLAIN)
    warm(auth, session_id)
    for _ in range(4):  # 40 minutes of use, every 10: longer than the idle timeout
        clock.advance(minutes=10)
        assert get(client, "/auth/verify", session_id).status_code == 200

    # Another process never saw a use: only the stored idle clock keeps the session alive.
    other = other_app.test_client()
    assert get(other, "/auth/verify", session_id).status_code == 200


@pytest.fixture
def other_app(make_auth: Callable[..., Auth]) -> Flask:
    auth = make_auth()
    return create_app(auth.settings, auth)
