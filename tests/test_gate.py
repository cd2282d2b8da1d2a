"""The forward-auth gate, `GET /auth/verify`: what a reverse proxy learns on each request."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from userauth.auth import Auth
from userauth.settings import GateSettings
from userauth.web import create_app

EMAIL = "ann@example.com"
PASSWORD = "ann's password"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"}


@pytest.fixture
def user_id(auth: Auth) -> int:
    return auth.register_user(EMAIL, PASSWORD).id


def log_in(client: FlaskClient) -> str:
    answer = client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 200
    cookie = client.get_cookie("session_id")
    assert cookie is not None
    return cookie.value


def verify(client: FlaskClient, **headers: str) -> TestResponse:
    return client.get("/auth/verify", headers=headers)


class TestLiveSession:
    def test_answers_200_with_the_identity_headers(
        self, client: FlaskClient, user_id: int
    ) -> None:
        log_in(client)
        answer = verify(client)
        assert answer.status_code == 200
        assert answer.headers["X-Auth-Request-User"] == str(user_id)
        assert answer.headers["X-Auth-Request-Email"] == EMAIL
        assert answer.json == {"id": user_id, "email": EMAIL}

    def test_head_answers_the_same_headers(self, client: FlaskClient, user_id: int) -> None:
        log_in(client)
        answer = client.head("/auth/verify")
        assert (answer.status_code, answer.headers["X-Auth-Request-User"]) == (200, str(user_id))

    def test_header_names_are_settings(self, make_auth: Callable[..., Auth], user_id: int) -> None:
        custom = make_auth(GateSettings(user_header="Remote-User", email_header="Remote-Email"))
        client = create_app(custom.settings, custom).test_client()
        log_in(client)
        answer = verify(client)
        assert (answer.headers["Remote-User"], answer.headers["Remote-Email"]) == (
            str(user_id),
            EMAIL,
        )
        assert "X-Auth-Request-User" not in answer.headers

    def test_the_gate_keeps_the_session_alive_past_the_idle_timeout(
        self, client: FlaskClient, user_id: int, clock: FakeClock
    ) -> None:
        log_in(client)
        for _ in range(4):  # 4 x 20 minutes: idle never more than 20 of the 30 minutes
            clock.advance(minutes=20)
            assert verify(client).status_code == 200

    def test_an_idle_session_is_refused(
        self, client: FlaskClient, user_id: int, clock: FakeClock
    ) -> None:
        log_in(client)
        clock.advance(minutes=31)
        assert verify(client).status_code == 401


class TestEmailHeader:
    @pytest.mark.parametrize(
        ("email", "header"),
        [
            ("bob.smith+tag@example.com", "bob.smith+tag@example.com"),
            ("über@example.com", "%C3%BCber@example.com"),
            ("%C3%BCber@example.com", "%25C3%25BCber@example.com"),
            ("o'neil@example.com", "o%27neil@example.com"),
        ],
        ids=["plain", "non-ascii", "percent-sign", "apostrophe"],
    )
    def test_no_two_emails_share_a_header_value(
        self, client: FlaskClient, auth: Auth, email: str, header: str
    ) -> None:
        auth.register_user(email, PASSWORD)
        client.post("/sessions", data={"email": email, "password": PASSWORD})
        answer = verify(client)
        assert answer.headers["X-Auth-Request-Email"] == header
        assert unquote(header) == answer.json["email"]  # type: ignore[index]


class TestNoSession:
    @pytest.mark.parametrize(
        "cookie", [None, "", "not-a-session", "0" * 43], ids=["none", "empty", "junk", "unknown"]
    )
    def test_answers_401_json(self, client: FlaskClient, cookie: str | None) -> None:
        if cookie is not None:
            client.set_cookie("session_id", cookie)
        answer = verify(client)
        assert (answer.status_code, answer.json) == (401, {"message": "no live session"})
        assert "X-Auth-Request-User" not in answer.headers

    def test_a_logged_out_session_is_refused_at_once(
        self, client: FlaskClient, user_id: int
    ) -> None:
        cookie = log_in(client)
        client.delete("/sessions")
        client.set_cookie("session_id", cookie)
        assert verify(client).status_code == 401

    def test_a_session_revoked_from_another_device_is_refused_at_once(
        self, client: FlaskClient, app: object, user_id: int
    ) -> None:
        cookie = log_in(client)
        other = client.application.test_client()
        log_in(other)
        [mine] = [s for s in other.get("/sessions").json["sessions"] if not s["current"]]  # type: ignore[index]
        assert other.delete(f"/sessions/{mine['id']}").status_code == 200
        client.set_cookie("session_id", cookie)
        assert verify(client).status_code == 401


class TestRedirectMode:
    def login_target(self, answer: TestResponse) -> tuple[str, list[str]]:
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        return location.path, parse_qs(location.query).get("next", [])

    def test_without_a_session_answers_302_to_the_login_page_with_the_original_url(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        custom = make_auth(GateSettings(redirect_hosts=("app.example.com",)))
        client = create_app(custom.settings, custom).test_client()
        answer = client.get(
            "/auth/verify?redirect=true", headers={**FORWARDED, "X-Forwarded-Uri": "/a?b=c"}
        )
        assert self.login_target(answer) == ("/auth/login", ["https://app.example.com/a?b=c"])

    def test_a_live_session_still_answers_200(self, client: FlaskClient, user_id: int) -> None:
        log_in(client)
        assert client.get("/auth/verify?redirect=true").status_code == 200

    @pytest.mark.parametrize(
        "forwarded",
        [
            {"X-Forwarded-Host": "evil.example"},
            {"X-Forwarded-Uri": "@evil.example/"},
            {"X-Forwarded-Uri": "\\\\evil.example"},
            {"X-Forwarded-Proto": "javascript"},
            {"X-Forwarded-Host": "app.example.com.evil.example"},
            {"X-Forwarded-Host": "app.example.com%2F%2Fevil.example"},
        ],
        ids=["other-host", "user-info", "backslashes", "javascript", "host-suffix", "encoded"],
    )
    def test_an_original_url_off_the_allowed_hosts_is_dropped(
        self, make_auth: Callable[..., Auth], forwarded: dict[str, str]
    ) -> None:
        custom = make_auth(GateSettings(redirect_hosts=("app.example.com",)))
        client = create_app(custom.settings, custom).test_client()
        headers = {**FORWARDED, "X-Forwarded-Uri": "/", **forwarded}
        answer = client.get("/auth/verify?redirect=true", headers=headers)
        assert self.login_target(answer) == ("/auth/login", [])

    def test_without_allowed_hosts_no_original_url_is_carried(self, client: FlaskClient) -> None:
        answer = client.get("/auth/verify?redirect=1", headers=FORWARDED)
        assert self.login_target(answer) == ("/auth/login", [])
