"""SPEC.md B on the service: `create_app()` answers every design route as the design does.

In development the service keeps the design's success answers byte for byte, so clients
written for the design work against it; the design's own `app.py` is tests/classic's.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from userauth.auth import Auth

EMAIL = "guillaume@holberton.io"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"


def register(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return client.post("/users", data={"email": email, "password": password})


def log_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return client.post("/sessions", data={"email": email, "password": password})


def session_cookie(response: TestResponse) -> str | None:
    """Return the session_id the response sets, or None."""
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "session_id":
            return rest.split(";", 1)[0]
    return None


def ask_reset_token(client: FlaskClient, email: str = EMAIL) -> str:
    token: str = client.post("/reset_password", data={"email": email}).json["reset_token"]  # type: ignore[index]
    return token


def put_new_password(client: FlaskClient, token: str, email: str = EMAIL) -> TestResponse:
    return client.put(
        "/reset_password",
        data={"email": email, "reset_token": token, "new_password": NEW_PASSWORD},
    )


@pytest.fixture
def registered(client: FlaskClient) -> None:
    assert register(client).status_code == 200


@pytest.fixture
def logged_in(client: FlaskClient, registered: None) -> str:
    """Log in; the client now holds the session cookie, whose value is returned."""
    session_id = session_cookie(log_in(client))
    assert session_id is not None
    return session_id


# The Accept headers of clients written for the design: none of them asks for HTML.
PROGRAMS_ACCEPT = {
    "no-header": None,
    "requests": requests.utils.default_headers()["Accept"],
    "curl": "*/*",
    "json": "application/json",
    "json-or-html-alike": "application/json, text/html",
}


class TestIndex:
    def test_answers_bienvenue(self, client: FlaskClient) -> None:
        response = client.get("/")
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.json == {"message": "Bienvenue"}

    @pytest.mark.parametrize("accept", list(PROGRAMS_ACCEPT.values()), ids=list(PROGRAMS_ACCEPT))
    def test_a_program_that_does_not_ask_for_html_gets_the_json_exactly(
        self, client: FlaskClient, accept: str | None
    ) -> None:
        headers = {} if accept is None else {"Accept": accept}
        response = client.get("/", headers=headers)
        assert (response.status_code, response.get_data()) == (200, b'{"message":"Bienvenue"}\n')


class TestRegister:
    def test_answers_user_created_with_the_email(self, client: FlaskClient) -> None:
        response = register(client)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.json == {"email": EMAIL, "message": "user created"}

    def test_answers_with_the_email_as_given(self, client: FlaskClient) -> None:
        response = register(client, "Guillaume@Holberton.IO")
        assert response.json == {"email": "Guillaume@Holberton.IO", "message": "user created"}

    def test_a_taken_email_answers_400_email_already_registered(
        self, client: FlaskClient, registered: None
    ) -> None:
        response = register(client, password="another password")
        assert response.status_code == 400
        assert response.json == {"message": "email already registered"}

    def test_a_taken_email_keeps_its_first_password(
        self, client: FlaskClient, registered: None
    ) -> None:
        register(client, password=NEW_PASSWORD)
        assert log_in(client).status_code == 200
        assert log_in(client, password=NEW_PASSWORD).status_code == 401


class TestLogIn:
    def test_answers_logged_in_with_the_email(self, client: FlaskClient, registered: None) -> None:
        response = log_in(client)
        assert response.status_code == 200
        assert response.json == {"email": EMAIL, "message": "logged in"}

    def test_sets_a_session_id_cookie_holding_a_uuid(
        self, client: FlaskClient, registered: None
    ) -> None:
        session_id = session_cookie(log_in(client))
        assert session_id is not None
        assert str(uuid.UUID(session_id)) == session_id

    def test_the_cookie_is_a_session_of_that_user(self, auth: Auth, logged_in: str) -> None:
        found = auth.get_user_from_session_id(logged_in)
        assert found is not None
        assert found.email == EMAIL

    @pytest.mark.parametrize(
        ("email", "password"),
        [(EMAIL, NEW_PASSWORD), ("nobody@holberton.io", PASSWORD), (EMAIL, PASSWORD.upper())],
        ids=["wrong-password", "unknown-email", "password-in-other-case"],
    )
    def test_a_wrong_login_answers_401_without_a_cookie(
        self, client: FlaskClient, registered: None, email: str, password: str
    ) -> None:
        response = log_in(client, email, password)
        assert response.status_code == 401
        assert session_cookie(response) is None


class TestLogOut:
    def test_redirects_with_302_to_the_index(self, client: FlaskClient, logged_in: str) -> None:
        response = client.delete("/sessions")
        assert response.status_code == 302
        assert response.location in {"/", "http://localhost/"}

    @pytest.mark.parametrize("accept", list(PROGRAMS_ACCEPT.values()), ids=list(PROGRAMS_ACCEPT))
    def test_following_the_redirect_ends_at_bienvenue(
        self, client: FlaskClient, logged_in: str, accept: str | None
    ) -> None:
        headers = {} if accept is None else {"Accept": accept}
        response = client.delete("/sessions", follow_redirects=True, headers=headers)
        assert [step.status_code for step in response.history] == [302]
        assert response.request.path == "/"
        assert response.status_code == 200
        assert response.json == {"message": "Bienvenue"}

    def test_the_session_ends(self, client: FlaskClient, auth: Auth, logged_in: str) -> None:
        client.delete("/sessions")
        assert auth.get_user_from_session_id(logged_in) is None
        client.set_cookie("session_id", logged_in)
        assert client.get("/profile").status_code == 403

    @pytest.mark.parametrize(
        "cookie", [None, str(uuid.uuid4()), "garbage"], ids=["no-cookie", "unknown", "garbage"]
    )
    def test_answers_403_when_no_user_has_that_session(
        self, client: FlaskClient, registered: None, cookie: str | None
    ) -> None:
        if cookie is not None:
            client.set_cookie("session_id", cookie)
        assert client.delete("/sessions").status_code == 403


class TestProfile:
    def test_answers_the_email_of_the_session(self, client: FlaskClient, logged_in: str) -> None:
        response = client.get("/profile")
        assert response.status_code == 200
        assert response.json == {"email": EMAIL}

    def test_answers_for_the_cookie_sent_by_another_client(
        self, client: FlaskClient, app: Flask, logged_in: str
    ) -> None:
        other = app.test_client()
        other.set_cookie("session_id", logged_in)
        assert other.get("/profile").json == {"email": EMAIL}

    @pytest.mark.parametrize(
        "cookie", [None, str(uuid.uuid4()), "garbage"], ids=["no-cookie", "unknown", "garbage"]
    )
    def test_answers_403_without_a_valid_session(
        self, client: FlaskClient, registered: None, cookie: str | None
    ) -> None:
        if cookie is not None:
            client.set_cookie("session_id", cookie)
        assert client.get("/profile").status_code == 403


class TestRequestReset:
    def test_answers_the_email_and_a_reset_token(
        self, client: FlaskClient, registered: None
    ) -> None:
        response = client.post("/reset_password", data={"email": EMAIL})
        assert response.status_code == 200
        body = response.json
        assert isinstance(body, dict)
        assert set(body) == {"email", "reset_token"}
        assert body["email"] == EMAIL
        assert str(uuid.UUID(body["reset_token"])) == body["reset_token"]

    def test_answers_403_for_an_unregistered_email(
        self, client: FlaskClient, registered: None
    ) -> None:
        response = client.post("/reset_password", data={"email": "nobody@holberton.io"})
        assert response.status_code == 403


class TestResetPassword:
    def test_answers_password_updated(self, client: FlaskClient, registered: None) -> None:
        response = put_new_password(client, ask_reset_token(client))
        assert response.status_code == 200
        assert response.json == {"email": EMAIL, "message": "Password updated"}

    def test_the_new_password_logs_in_and_the_old_does_not(
        self, client: FlaskClient, registered: None
    ) -> None:
        put_new_password(client, ask_reset_token(client))
        assert log_in(client, password=NEW_PASSWORD).status_code == 200
        assert log_in(client).status_code == 401

    def test_a_token_works_once(self, client: FlaskClient, registered: None) -> None:
        token = ask_reset_token(client)
        assert put_new_password(client, token).status_code == 200
        assert put_new_password(client, token).status_code == 403

    @pytest.mark.parametrize(
        "token", [str(uuid.uuid4()), "garbage"], ids=["unknown-uuid", "not-a-uuid"]
    )
    def test_answers_403_for_an_invalid_token_and_keeps_the_password(
        self, client: FlaskClient, registered: None, token: str
    ) -> None:
        ask_reset_token(client)
        assert put_new_password(client, token).status_code == 403
        assert log_in(client).status_code == 200
