"""The design's `app.py`: `app`, `AUTH` and every route, driven with Flask's test client."""

from __future__ import annotations

import re
from types import ModuleType
from unittest.mock import MagicMock, patch

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

EMAIL = "guillaume@holberton.io"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def register(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return client.post("/users", data={"email": email, "password": password})


def log_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return client.post("/sessions", data={"email": email, "password": password})


def cookie_of(response: TestResponse) -> str:
    [header] = response.headers.getlist("Set-Cookie")
    return header.split(";")[0].removeprefix("session_id=")


def is_flask_error_page(response: TestResponse, status: int) -> bool:
    """Tell whether the answer is Flask's own HTML page for `status`, as `abort()` gives."""
    return (
        response.status_code == status
        and response.mimetype == "text/html"
        and f"<title>{status} " in response.get_data(as_text=True)
    )


@pytest.fixture
def registered(client: FlaskClient) -> None:
    assert register(client).status_code == 200


class TestModule:
    def test_importing_app_prints_nothing(self, tmp_path: object) -> None:
        from tests.classic.conftest import run_program

        finished = run_program("import app\nimport auth, db, user\n", tmp_path)  # type: ignore[arg-type]
        assert (finished.returncode, finished.stdout, finished.stderr) == (0, "", "")

    def test_auth_is_an_auth_and_app_a_flask_app(self, design_app: ModuleType) -> None:
        import auth

        assert isinstance(design_app.AUTH, auth.Auth)
        assert design_app.app.name == "app"

    def test_routes_call_the_module_auth_at_request_time(
        self, design_app: ModuleType, client: FlaskClient
    ) -> None:
        fake = MagicMock()
        fake.get_user_from_session_id.return_value.email = "fake@example.com"
        client.set_cookie("session_id", "anything")
        with patch("app.AUTH", fake):
            answer = client.get("/profile")
        assert answer.json == {"email": "fake@example.com"}
        fake.get_user_from_session_id.assert_called_once_with("anything")


class TestIndex:
    def test_answers_bienvenue(self, client: FlaskClient) -> None:
        answer = client.get("/")
        assert (answer.status_code, answer.json) == (200, {"message": "Bienvenue"})


class TestRegister:
    def test_answers_user_created(self, client: FlaskClient) -> None:
        answer = register(client)
        assert (answer.status_code, answer.json) == (
            200,
            {"email": EMAIL, "message": "user created"},
        )

    def test_a_taken_email_answers_400_json(self, client: FlaskClient, registered: None) -> None:
        answer = register(client, password="other")
        assert (answer.status_code, answer.json) == (400, {"message": "email already registered"})

    @pytest.mark.parametrize(
        ("email", "password"),
        [("Bob@Example.COM", "x"), ("test@test", "x"), ("a@b.c", ""), ("x", "p" * 100)],
        ids=["mixed-case", "no-dot-domain", "empty-password", "100-byte-password"],
    )
    def test_accepts_and_echoes_what_the_design_does(
        self, client: FlaskClient, email: str, password: str
    ) -> None:
        answer = register(client, email, password)
        assert (answer.status_code, answer.json) == (
            200,
            {"email": email, "message": "user created"},
        )
        assert log_in(client, email, password).status_code == 200

    def test_emails_differing_in_case_are_two_accounts(self, client: FlaskClient) -> None:
        register(client, "Bob@Example.COM", "upper")
        assert register(client, "bob@example.com", "lower").status_code == 200
        log_in(client, "Bob@Example.COM", "upper")
        assert client.get("/profile").json == {"email": "Bob@Example.COM"}

    def test_thirty_sign_ups_are_thirty_200s(self, client: FlaskClient) -> None:
        statuses = {register(client, f"u{n}@example.com").status_code for n in range(30)}
        assert statuses == {200}

    @pytest.mark.parametrize(
        "form", [{"email": EMAIL}, {"password": PASSWORD}, {}], ids=["no-pw", "no-email", "none"]
    )
    def test_a_missing_field_answers_400_json_where_the_design_crashed(
        self, client: FlaskClient, form: dict[str, str]
    ) -> None:
        answer = client.post("/users", data=form)
        assert answer.status_code == 400
        assert set(answer.json or {}) == {"message"}
        assert register(client).status_code == 200


class TestLogIn:
    def test_answers_logged_in_with_a_session_cookie_on_path_only(
        self, client: FlaskClient, registered: None
    ) -> None:
        answer = log_in(client)
        assert (answer.status_code, answer.json) == (200, {"email": EMAIL, "message": "logged in"})
        [header] = answer.headers.getlist("Set-Cookie")
        assert re.fullmatch(f"session_id={UUID}; Path=/", header)

    def test_the_cookie_is_the_stored_session_id(
        self, design_app: ModuleType, client: FlaskClient, registered: None
    ) -> None:
        session_id = cookie_of(log_in(client))
        assert design_app.AUTH._db.find_user_by(email=EMAIL).session_id == session_id

    def test_a_wrong_password_is_flasks_401_page(
        self, client: FlaskClient, registered: None
    ) -> None:
        answer = log_in(client, password=NEW_PASSWORD)
        assert is_flask_error_page(answer, 401)
        assert answer.headers.getlist("Set-Cookie") == []

    def test_thirty_wrong_logins_are_thirty_401s(
        self, client: FlaskClient, registered: None
    ) -> None:
        statuses = [log_in(client, password=f"wrong{n}").status_code for n in range(30)]
        assert statuses == [401] * 30
        assert log_in(client).status_code == 200

    def test_an_unknown_email_without_password_is_401(self, client: FlaskClient) -> None:
        answer = client.post("/sessions", data={"email": "nobody@example.com"})
        assert is_flask_error_page(answer, 401)

    def test_a_known_email_without_password_is_400_json(
        self, client: FlaskClient, registered: None
    ) -> None:
        answer = client.post("/sessions", data={"email": EMAIL})
        assert answer.status_code == 400
        assert set(answer.json or {}) == {"message"}

    def test_a_second_login_ends_the_first_session(
        self, client: FlaskClient, registered: None
    ) -> None:
        first = cookie_of(log_in(client))
        second = cookie_of(log_in(client))
        client.set_cookie("session_id", first)
        assert is_flask_error_page(client.get("/profile"), 403)
        client.set_cookie("session_id", second)
        assert client.get("/profile").status_code == 200


class TestLogOut:
    def test_redirects_to_the_index_and_ends_the_session(
        self, client: FlaskClient, registered: None
    ) -> None:
        log_in(client)
        answer = client.delete("/sessions")
        assert (answer.status_code, answer.location) == (302, "/")
        assert client.delete("/sessions", follow_redirects=True).status_code == 403
        assert is_flask_error_page(client.get("/profile"), 403)

    def test_without_a_session_is_flasks_403_page(self, client: FlaskClient) -> None:
        assert is_flask_error_page(client.delete("/sessions"), 403)


class TestProfile:
    def test_answers_the_email_as_stored(self, client: FlaskClient) -> None:
        register(client, " Ann@Example.COM", PASSWORD)
        log_in(client, " Ann@Example.COM", PASSWORD)
        assert client.get("/profile").json == {"email": " Ann@Example.COM"}

    @pytest.mark.parametrize("cookie", [None, "", "not-a-session"], ids=["none", "empty", "bad"])
    def test_without_a_valid_session_is_flasks_403_page(
        self, client: FlaskClient, cookie: str | None
    ) -> None:
        if cookie is not None:
            client.set_cookie("session_id", cookie)
        assert is_flask_error_page(client.get("/profile"), 403)


class TestResetPassword:
    def test_answers_the_email_and_a_clear_token(
        self, design_app: ModuleType, client: FlaskClient, registered: None
    ) -> None:
        answer = client.post("/reset_password", data={"email": EMAIL})
        body = answer.json or {}
        assert (answer.status_code, set(body)) == (200, {"email", "reset_token"})
        assert re.fullmatch(UUID, body["reset_token"])
        assert design_app.AUTH._db.find_user_by(email=EMAIL).reset_token == body["reset_token"]

    @pytest.mark.parametrize("form", [{"email": "nobody@x.y"}, {}], ids=["unknown", "missing"])
    def test_an_unknown_or_missing_email_is_flasks_403_page(
        self, client: FlaskClient, form: dict[str, str]
    ) -> None:
        assert is_flask_error_page(client.post("/reset_password", data=form), 403)

    def test_thirty_requests_are_thirty_200s(self, client: FlaskClient, registered: None) -> None:
        statuses = {
            client.post("/reset_password", data={"email": EMAIL}).status_code for _ in range(30)
        }
        assert statuses == {200}


class TestUpdatePassword:
    def put(self, client: FlaskClient, **form: str) -> TestResponse:
        return client.put("/reset_password", data=form)

    def token(self, client: FlaskClient) -> str:
        body = client.post("/reset_password", data={"email": EMAIL}).json or {}
        return str(body["reset_token"])

    def test_answers_password_updated_and_the_new_password_logs_in(
        self, client: FlaskClient, registered: None
    ) -> None:
        answer = self.put(
            client, email=EMAIL, reset_token=self.token(client), new_password=NEW_PASSWORD
        )
        assert (answer.status_code, answer.json) == (
            200,
            {"email": EMAIL, "message": "Password updated"},
        )
        assert log_in(client, password=NEW_PASSWORD).status_code == 200
        assert log_in(client).status_code == 401

    def test_another_email_in_the_form_is_echoed(
        self, client: FlaskClient, registered: None
    ) -> None:
        answer = self.put(
            client, email="else@example.com", reset_token=self.token(client), new_password="n"
        )
        assert (answer.status_code, answer.json) == (
            200,
            {"email": "else@example.com", "message": "Password updated"},
        )

    def test_the_session_keeps_working_after_a_reset(
        self, client: FlaskClient, registered: None
    ) -> None:
        log_in(client)
        self.put(client, email=EMAIL, reset_token=self.token(client), new_password="n")
        assert client.get("/profile").status_code == 200

    @pytest.mark.parametrize(
        "form",
        [
            {"email": EMAIL, "reset_token": "unknown", "new_password": "n"},
            {"email": EMAIL, "new_password": "n"},
            {},
        ],
        ids=["unknown-token", "no-token", "nothing"],
    )
    def test_no_matching_token_is_flasks_403_page(
        self, client: FlaskClient, registered: None, form: dict[str, str]
    ) -> None:
        assert is_flask_error_page(self.put(client, **form), 403)
        assert log_in(client).status_code == 200

    def test_a_token_works_once(self, client: FlaskClient, registered: None) -> None:
        token = self.token(client)
        assert (
            self.put(client, email=EMAIL, reset_token=token, new_password="n").status_code == 200
        )
        assert is_flask_error_page(
            self.put(client, email=EMAIL, reset_token=token, new_password="m"), 403
        )

    def test_a_valid_token_without_new_password_is_400_json_and_keeps_the_token(
        self, client: FlaskClient, registered: None
    ) -> None:
        token = self.token(client)
        answer = self.put(client, email=EMAIL, reset_token=token)
        assert answer.status_code == 400
        assert set(answer.json or {}) == {"message"}
        assert (
            self.put(client, email=EMAIL, reset_token=token, new_password="n").status_code == 200
        )


class TestFlaskDefaults:
    @pytest.mark.parametrize(
        ("method", "path", "status"),
        [
            ("GET", "/nowhere", 404),
            ("GET", "/users", 405),
            ("PATCH", "/profile", 405),
            ("POST", "/users/", 404),
            ("GET", "/profile/", 404),
        ],
        ids=["unknown-route", "get-users", "patch-profile", "users-slash", "profile-slash"],
    )
    def test_unknown_routes_and_methods_are_flasks_pages(
        self, client: FlaskClient, method: str, path: str, status: int
    ) -> None:
        assert is_flask_error_page(client.open(path, method=method), status)
