"""Bad input never gives a 5xx: each route that takes input answers it with a 4xx JSON message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import GENEROUS_LIMITS
from tests.route_table import BODY_ROUTES
from userauth.auth import Auth
from userauth.web import create_app

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = pytest.mark.databases("sqlite")

EMAIL = "ada@example.com"
PASSWORD = "correct horse"
FORM = "application/x-www-form-urlencoded"
# Stand-ins, filled in when the request is sent, for the account's live secrets.
SESSION = "<live session id>"
TOKEN = "<live reset token>"

HUGE_EMAIL = "a" * (10 * 1024 - len("@example.com")) + "@example.com"
LONG_PASSWORD = "p" * 73
LONG_UTF8_PASSWORD = "é" * 37  # 37 characters, 74 bytes: the limit is in bytes
NOT_UTF8 = b"email=%ff%fe&password=%c3%28"
OVER_64_KB = b"email=" + b"a" * (64 * 1024)
NUL_EMAIL = "ada\x00@example.com"


@dataclass(frozen=True)
class Case:
    """One bad request: its form (or raw body), its Cookie header, and the answer it gets."""

    form: dict[str, str] | bytes | None = None
    cookie: str | None = f"session_id={SESSION}"
    status: int = 400
    mentions: str = ""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    session_id: str
    reset_token: str


def open_account(app: Flask) -> Account:
    """Register a user, log in and ask for a reset token."""
    client = app.test_client()
    form = {"email": EMAIL, "password": PASSWORD}
    assert client.post("/users", data=form).status_code == 200
    assert client.post("/sessions", data=form).status_code == 200
    cookie = client.get_cookie("session_id")
    assert cookie is not None
    token = client.post("/reset_password", data={"email": EMAIL}).get_json()["reset_token"]
    return Account(EMAIL, PASSWORD, cookie.value, token)


@pytest.fixture
def account(app: Flask) -> Account:
    """A registered user with a live session and a pending reset token."""
    return open_account(app)


def send(app: Flask, account: Account, method: str, path: str, case: Case) -> TestResponse:
    """Send a case from a client with no cookie jar, so only the case's Cookie header counts."""
    headers = dict(case.headers)
    if case.cookie is not None:
        headers["Cookie"] = case.cookie.replace(SESSION, account.session_id)
    client = app.test_client(use_cookies=False)
    if isinstance(case.form, bytes):
        return client.open(path, method=method, data=case.form, content_type=FORM, headers=headers)
    form = {
        name: value.replace(TOKEN, account.reset_token)
        for name, value in (case.form or {}).items()
    }
    return client.open(path, method=method, data=form, headers=headers)


def assert_json_error(response: TestResponse, status: int, mentions: str = "") -> None:
    """The answer has this status and a body of exactly {"message": <non-empty text>}."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.is_json, response.content_type
    body = response.get_json()
    assert isinstance(body, dict)
    assert list(body) == ["message"]
    message = body["message"]
    assert isinstance(message, str)
    assert message.strip()
    assert mentions in message


def assert_still_logs_in(app: Flask, account: Account) -> None:
    fresh = app.test_client()
    answer = fresh.post("/sessions", data={"email": account.email, "password": account.password})
    assert answer.status_code == 200
    assert fresh.get("/profile").get_json() == {"email": account.email}


REGISTER_CASES = {
    "no-fields": Case({}),
    "email-not-utf8": Case(
        b"email=%FF%FE%40example.com&password=a+long+password", mentions="UTF-8"
    ),
    "password-not-utf8": Case(b"email=new%40example.com&password=ab%C3%28cd", mentions="UTF-8"),
    "field-name-not-utf8": Case(b"em%FFail=new%40example.com&password=x", mentions="UTF-8"),
    "missing-email": Case({"password": PASSWORD}, mentions="email"),
    "missing-password": Case({"email": "new@example.com"}, mentions="password"),
    "empty-email": Case({"email": "", "password": PASSWORD}, mentions="email"),
    "empty-password": Case({"email": "new@example.com", "password": ""}, mentions="password"),
    "blank-email": Case({"email": "   ", "password": PASSWORD}, mentions="email"),
    "10-kb-email": Case({"email": HUGE_EMAIL, "password": PASSWORD}, mentions="email"),
    "malformed-email": Case({"email": "not-an-email", "password": PASSWORD}, mentions="email"),
    "two-at-signs": Case({"email": "a@b@example.com", "password": PASSWORD}, mentions="email"),
    "nul-in-email": Case({"email": NUL_EMAIL, "password": PASSWORD}, mentions="email"),
    "73-byte-password": Case(
        {"email": "new@example.com", "password": LONG_PASSWORD}, mentions="72 bytes"
    ),
    "74-byte-utf8-password": Case(
        {"email": "new@example.com", "password": LONG_UTF8_PASSWORD}, mentions="72 bytes"
    ),
    "not-utf8": Case(NOT_UTF8),
    "taken-email-other-case": Case(
        {"email": "ADA@example.com", "password": PASSWORD}, mentions="email already registered"
    ),
}

LOGIN_CASES = {
    "no-fields": Case({}),
    "email-not-utf8": Case(b"email=%FF%40example.com&password=x", mentions="UTF-8"),
    "missing-email": Case({"password": PASSWORD}, mentions="email"),
    "missing-password": Case({"email": EMAIL}, mentions="password"),
    "empty-email": Case({"email": "", "password": PASSWORD}, mentions="email"),
    "empty-password": Case({"email": EMAIL, "password": ""}, mentions="password"),
    "10-kb-email": Case({"email": HUGE_EMAIL, "password": PASSWORD}, mentions="email"),
    "malformed-email": Case({"email": "not-an-email", "password": PASSWORD}, status=401),
    "nul-in-email": Case({"email": NUL_EMAIL, "password": PASSWORD}, status=401),
    "73-byte-password": Case({"email": EMAIL, "password": LONG_PASSWORD}, status=401),
    "74-byte-utf8-password": Case({"email": EMAIL, "password": LONG_UTF8_PASSWORD}, status=401),
    "right-password-plus-73-bytes": Case(
        {"email": EMAIL, "password": PASSWORD + LONG_PASSWORD}, status=401
    ),
    "not-utf8": Case(NOT_UTF8, mentions="UTF-8"),
    "nul-in-user-agent": Case(
        {"email": EMAIL, "password": "wrong"}, status=401, headers=(("User-Agent", "a\x00b"),)
    ),
}

REQUEST_RESET_CASES = {
    "no-fields": Case({}, mentions="email"),
    "empty-email": Case({"email": ""}, mentions="email"),
    "10-kb-email": Case({"email": HUGE_EMAIL}, mentions="email"),
    "malformed-email": Case({"email": "not-an-email"}, status=403),
    "nul-in-email": Case({"email": NUL_EMAIL}, status=403),
    "not-utf8": Case(NOT_UTF8, mentions="UTF-8"),
}

GOOD_RESET = {"email": EMAIL, "reset_token": TOKEN, "new_password": "n3w password"}

RESET_CASES = {
    "no-fields": Case({}),
    "missing-email": Case(
        {"reset_token": TOKEN, "new_password": "n3w password"}, mentions="email"
    ),
    "empty-email": Case({**GOOD_RESET, "email": ""}, mentions="email"),
    "missing-token": Case(
        {"email": EMAIL, "new_password": "n3w password"}, mentions="reset_token"
    ),
    "missing-new-password": Case({"email": EMAIL, "reset_token": TOKEN}, mentions="new_password"),
    "empty-token": Case({**GOOD_RESET, "reset_token": ""}, mentions="reset_token"),
    "empty-new-password": Case({**GOOD_RESET, "new_password": ""}, mentions="new_password"),
    "10-kb-email": Case({**GOOD_RESET, "email": HUGE_EMAIL}, mentions="email"),
    "10-kb-token": Case({**GOOD_RESET, "reset_token": "t" * 10240}, mentions="reset_token"),
    "malformed-token": Case({**GOOD_RESET, "reset_token": "not-a-token"}, status=403),
    "100-character-token": Case({**GOOD_RESET, "reset_token": "t" * 100}, status=403),
    "malformed-email": Case({**GOOD_RESET, "email": "not-an-email"}, status=403),
    "nul-in-email": Case({**GOOD_RESET, "email": NUL_EMAIL}, status=403),
    "73-byte-new-password": Case(
        {**GOOD_RESET, "new_password": LONG_PASSWORD}, mentions="72 bytes"
    ),
    "74-byte-utf8-new-password": Case(
        {**GOOD_RESET, "new_password": LONG_UTF8_PASSWORD}, mentions="72 bytes"
    ),
    "not-utf8": Case(NOT_UTF8, mentions="UTF-8"),
}

GOOD_CHANGE = {"password": PASSWORD, "new_password": "n3w password"}

CHANGE_CASES = {
    "no-fields": Case({}),
    "missing-password": Case({"new_password": "n3w password"}, mentions="password"),
    "missing-new-password": Case({"password": PASSWORD}, mentions="new_password"),
    "empty-password": Case({**GOOD_CHANGE, "password": ""}, mentions="password"),
    "empty-new-password": Case({**GOOD_CHANGE, "new_password": ""}, mentions="new_password"),
    "73-byte-new-password": Case(
        {**GOOD_CHANGE, "new_password": LONG_PASSWORD}, mentions="72 bytes"
    ),
    "74-byte-utf8-new-password": Case(
        {**GOOD_CHANGE, "new_password": LONG_UTF8_PASSWORD}, mentions="72 bytes"
    ),
    "73-byte-current-password": Case({**GOOD_CHANGE, "password": LONG_PASSWORD}, status=403),
    "not-utf8": Case(NOT_UTF8, mentions="UTF-8"),
    "no-cookie": Case(GOOD_CHANGE, cookie=None, status=403),
    "malformed-cookie": Case(GOOD_CHANGE, cookie='session_id="unbalanced', status=403),
    "8-kb-cookie": Case(GOOD_CHANGE, cookie="session_id=" + "a" * 8192, status=403),
}

# Cookie headers that carry no live session; every cookie route answers them 403.
BAD_COOKIES = {
    "no-cookie": None,
    "empty-value": "session_id=",
    "not-a-uuid": "session_id=not-a-session",
    "unbalanced-quote": 'session_id="abc',
    "latin-1-bytes": "session_id=\xff\xfe",
    "percent-escapes": "session_id=%ff%fe",
    "no-name": "=;;session_id",
    "nul-byte": "session_id=a\x00b",
    "8-kb-value": "session_id=" + "a" * 8192,
    "8-kb-other-cookie": "junk=" + "b" * 8192,
}
COOKIE_ROUTES = {
    "logout": ("DELETE", "/sessions"),
    "profile": ("GET", "/profile"),
    "list-sessions": ("GET", "/sessions"),
    "revoke-session": ("DELETE", "/sessions/1"),
}

# Session ids that name none of the caller's sessions; row numbers no longer name any.
REVOKE_IDS = {
    "row-number": "1",
    "unknown-id": "x" * 22,
    "over-int64": "9223372036854775808",
    "too-long": "a" * 33,
    "negative": "-1",
    "fraction": "1.5",
    "nul": "%00",
    "non-ascii": "%C3%A9t%C3%A9",
    "lone-surrogate-bytes": "%ED%A0%80",
}

# The design's routes that read a form.
FORM_ROUTES = {
    name: BODY_ROUTES[name]
    for name in ("register", "login", "request-reset", "reset", "change-password")
}


def _table(cases: dict[str, Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", list(cases.values()), ids=list(cases))


class TestUndecodableForms:
    def test_no_account_is_made_from_invalid_utf8(self, app: Flask, account: Account) -> None:
        case = REGISTER_CASES["email-not-utf8"]
        assert_json_error(send(app, account, "POST", "/users", case), 400, "UTF-8")
        attempt = app.test_client().post(
            "/sessions", data={"email": "%FF%FE@example.com", "password": "a long password"}
        )
        assert attempt.status_code == 401


class TestRegister:
    @_table(REGISTER_CASES)
    def test_bad_registration_gets_a_json_4xx(
        self, app: Flask, account: Account, case: Case
    ) -> None:
        response = send(app, account, "POST", "/users", case)
        assert_json_error(response, case.status, case.mentions)
        assert_still_logs_in(app, account)


class TestLogin:
    @_table(LOGIN_CASES)
    def test_bad_login_gets_a_json_4xx(self, app: Flask, account: Account, case: Case) -> None:
        response = send(app, account, "POST", "/sessions", case)
        assert_json_error(response, case.status, case.mentions)
        assert "Set-Cookie" not in response.headers
        assert_still_logs_in(app, account)


class TestRequestReset:
    @_table(REQUEST_RESET_CASES)
    def test_bad_reset_request_gets_a_json_4xx(
        self, app: Flask, account: Account, case: Case
    ) -> None:
        response = send(app, account, "POST", "/reset_password", case)
        assert_json_error(response, case.status, case.mentions)


class TestResetPassword:
    @_table(RESET_CASES)
    def test_bad_reset_gets_a_json_4xx_and_spends_nothing(
        self, app: Flask, account: Account, case: Case
    ) -> None:
        response = send(app, account, "PUT", "/reset_password", case)
        assert_json_error(response, case.status, case.mentions)
        assert_still_logs_in(app, account)
        # The token survived the bad attempt: it still works, once.
        assert send(app, account, "PUT", "/reset_password", Case(GOOD_RESET)).status_code == 200


class TestChangePassword:
    @_table(CHANGE_CASES)
    def test_bad_change_gets_a_json_4xx_and_changes_nothing(
        self, app: Flask, account: Account, case: Case
    ) -> None:
        response = send(app, account, "PUT", "/profile/password", case)
        assert_json_error(response, case.status, case.mentions)
        assert_still_logs_in(app, account)
        assert send(app, account, "GET", "/profile", Case()).status_code == 200


class TestSessionCookie:
    @pytest.mark.parametrize("cookie", list(BAD_COOKIES.values()), ids=list(BAD_COOKIES))
    @pytest.mark.parametrize("route", list(COOKIE_ROUTES.values()), ids=list(COOKIE_ROUTES))
    def test_a_cookie_without_a_live_session_gets_a_json_403(
        self, app: Flask, account: Account, route: tuple[str, str], cookie: str | None
    ) -> None:
        method, path = route
        response = send(app, account, method, path, Case(cookie=cookie))
        assert_json_error(response, 403)
        assert send(app, account, "GET", "/profile", Case()).status_code == 200

    def test_logout_with_a_live_cookie_is_the_contracts_redirect(
        self, app: Flask, account: Account
    ) -> None:
        response = send(app, account, "DELETE", "/sessions", Case())
        assert response.status_code == 302
        assert response.headers["Location"] == "/"


class TestRevokeSession:
    @pytest.mark.parametrize("session", list(REVOKE_IDS.values()), ids=list(REVOKE_IDS))
    def test_an_id_that_is_no_session_of_the_caller_gets_a_json_404(
        self, app: Flask, account: Account, session: str
    ) -> None:
        response = send(app, account, "DELETE", f"/sessions/{session}", Case())
        assert_json_error(response, 404, "no such session")
        assert send(app, account, "GET", "/profile", Case()).status_code == 200


class TestBodyLimit:
    @pytest.mark.parametrize("route", list(FORM_ROUTES.values()), ids=list(FORM_ROUTES))
    def test_a_body_over_64_kb_gets_a_json_413(
        self, app: Flask, account: Account, route: tuple[str, str]
    ) -> None:
        method, path = route
        response = send(app, account, method, path, Case(OVER_64_KB))
        assert_json_error(response, 413)
        assert_still_logs_in(app, account)


class TestUnknownRoutes:
    @pytest.mark.parametrize(
        "path",
        ["/nowhere", "/users/1", "/profile/", "/%ff"],
        ids=["word", "user-id", "slash", "not-utf8"],
    )
    def test_an_unknown_path_gets_a_json_404(self, client: FlaskClient, path: str) -> None:
        assert_json_error(client.get(path), 404)

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/users"),
            ("PATCH", "/users"),
            ("POST", "/profile"),
            ("PUT", "/sessions"),
        ],
        ids=["get-users", "patch-users", "post-profile", "put-sessions"],
    )
    def test_a_wrong_method_gets_a_json_405(
        self, client: FlaskClient, method: str, path: str
    ) -> None:
        response = client.open(path, method=method)
        assert_json_error(response, 405)
        assert "Allow" in response.headers


BARRAGE = [
    *(("POST", "/users", case) for case in REGISTER_CASES.values()),
    *(("POST", "/sessions", case) for case in LOGIN_CASES.values()),
    *(("POST", "/reset_password", case) for case in REQUEST_RESET_CASES.values()),
    *(("PUT", "/reset_password", case) for case in RESET_CASES.values()),
    *(("PUT", "/profile/password", case) for case in CHANGE_CASES.values()),
    *(
        (method, path, Case(cookie=cookie))
        for method, path in COOKIE_ROUTES.values()
        for cookie in BAD_COOKIES.values()
    ),
    *(("DELETE", f"/sessions/{session}", Case()) for session in REVOKE_IDS.values()),
    *((method, path, Case(OVER_64_KB)) for method, path in FORM_ROUTES.values()),
]


class TestBarrage:
    def test_every_bad_request_in_a_row_leaves_the_account_intact(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        # Default limits would answer most of the barrage 429 before it is even read.
        auth = make_auth(GENEROUS_LIMITS)
        app = create_app(auth.settings, auth)
        account = open_account(app)
        statuses = [
            (method, path, send(app, account, method, path, case).status_code)
            for method, path, case in BARRAGE
        ]
        assert [answer for answer in statuses if not 400 <= answer[2] < 500] == []
        assert_still_logs_in(app, account)
        assert send(app, account, "GET", "/profile", Case()).get_json() == {"email": EMAIL}
        # The bad resets and changes stored nothing: the old password is still the only one.
        for password in (LONG_PASSWORD, LONG_UTF8_PASSWORD, "n3w password"):
            login = {"email": EMAIL, "password": password}
            assert app.test_client().post("/sessions", data=login).status_code == 401
        reset = send(app, account, "PUT", "/reset_password", Case(GOOD_RESET))
        assert reset.status_code == 200
