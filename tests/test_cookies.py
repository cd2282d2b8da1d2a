"""The session cookie's attributes, and no-store on answers that carry a session or a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import TEST_SECURITY
from userauth.auth import Auth
from userauth.settings import CookieSettings, Settings, SettingsError
from userauth.web import create_app

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"
EIGHT_HOURS = 8 * 60 * 60


def client_of(auth: Auth) -> FlaskClient:
    """A test client of an app around this Auth, with Bob registered."""
    auth.register_user(EMAIL, PASSWORD)
    return create_app(auth.settings, auth).test_client()


def log_in(client: FlaskClient) -> TestResponse:
    response = client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    return response


def session_cookie(response: TestResponse) -> dict[str, str | None]:
    """Parse the response's session_id Set-Cookie into {attribute in lower case: value}."""
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session_id=")]
    assert len(headers) == 1
    first, *rest = headers[0].split(";")
    attributes: dict[str, str | None] = {"session_id": first.partition("=")[2]}
    for part in rest:
        name, equals, value = part.strip().partition("=")
        attributes[name.lower()] = value if equals else None
    return attributes


class TestSessionCookie:
    @pytest.fixture
    def cookie(self, auth: Auth) -> dict[str, str | None]:
        return session_cookie(log_in(client_of(auth)))

    def test_the_cookie_carries_the_session_id(
        self, auth: Auth, cookie: dict[str, str | None]
    ) -> None:
        user = auth.get_user_from_session_id(cookie["session_id"])

        assert user is not None
        assert user.email == EMAIL

    def test_the_cookie_is_http_only(self, cookie: dict[str, str | None]) -> None:
        assert "httponly" in cookie

    def test_the_cookie_is_same_site_lax(self, cookie: dict[str, str | None]) -> None:
        assert cookie["samesite"] == "Lax"

    def test_the_cookie_path_is_root(self, cookie: dict[str, str | None]) -> None:
        assert cookie["path"] == "/"

    def test_the_cookie_max_age_is_the_absolute_lifetime_of_8_hours(
        self, cookie: dict[str, str | None]
    ) -> None:
        assert cookie["max-age"] == str(EIGHT_HOURS)

    def test_the_cookie_max_age_follows_the_lifetime_setting(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        client = client_of(make_auth(replace(TEST_SECURITY, session_lifetime=timedelta(hours=2))))

        assert session_cookie(log_in(client))["max-age"] == str(2 * 60 * 60)

    def test_the_cookie_is_not_secure_by_default(self, cookie: dict[str, str | None]) -> None:
        assert "secure" not in cookie

    def test_the_cookie_is_secure_when_cookie_secure_is_set(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        client = client_of(make_auth(CookieSettings(secure=True)))

        assert "secure" in session_cookie(log_in(client))

    @pytest.mark.parametrize(
        ("environ", "secure"),
        [
            ({}, False),
            ({"USERAUTH_ENV": "production"}, True),
            ({"USERAUTH_COOKIE_SECURE": "true"}, True),
            ({"USERAUTH_ENV": "production", "USERAUTH_COOKIE_SECURE": "false"}, False),
        ],
        ids=["development", "production", "asked-for", "production-behind-plain-http"],
    )
    def test_cookie_secure_is_a_setting_that_production_turns_on(
        self, environ: dict[str, str], secure: bool
    ) -> None:
        assert Settings.from_env(environ).cookies.secure is secure

    def test_logout_clears_the_cookie(self, auth: Auth) -> None:
        client = client_of(auth)
        log_in(client)

        cleared = session_cookie(client.delete("/sessions"))

        assert cleared["session_id"] == ""
        assert cleared["max-age"] == "0"
        assert cleared["path"] == "/"


class TestCookieDomain:
    def test_no_domain_by_default_so_the_cookie_stays_on_this_host(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        assert "domain" not in session_cookie(log_in(client_of(make_auth())))

    def test_the_domain_setting_covers_every_subdomain_and_logout_clears_it_there(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        client = client_of(make_auth(CookieSettings(domain="example.com")))
        login = session_cookie(
            client.post(
                "/sessions",
                data={"email": EMAIL, "password": PASSWORD},
                base_url="https://auth.example.com",
            )
        )
        assert login["domain"] == "example.com"
        assert client.get("/profile", base_url="https://app.example.com").status_code == 200
        logout = client.delete("/sessions", base_url="https://auth.example.com")
        cleared = session_cookie(logout)
        assert (cleared["domain"], cleared["session_id"]) == ("example.com", "")
        assert client.get("/profile", base_url="https://app.example.com").status_code == 403


class TestNoStore:
    def test_a_login_answer_is_not_stored(self, auth: Auth) -> None:
        response = log_in(client_of(auth))

        assert response.headers["Cache-Control"] == "no-store"

    def test_a_reset_token_answer_is_not_stored(self, auth: Auth) -> None:
        response = client_of(auth).post("/reset_password", data={"email": EMAIL})

        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"

    def test_a_profile_answer_is_not_stored(self, auth: Auth) -> None:
        client = client_of(auth)
        log_in(client)

        response = client.get("/profile")

        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"

    def test_a_session_list_answer_is_not_stored(self, auth: Auth) -> None:
        client = client_of(auth)
        log_in(client)

        response = client.get("/sessions")

        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"


class TestCookieName:
    """Issue 22, item 4: the session cookie's name is a setting (USERAUTH_SESSION_COOKIE)."""

    @pytest.fixture
    def renamed(self, make_auth: Callable[..., Auth]) -> FlaskClient:
        return client_of(make_auth(CookieSettings(session_name="myapp_session")))

    def test_login_sets_the_cookie_under_the_chosen_name(self, renamed: FlaskClient) -> None:
        answer = log_in(renamed)
        names = [h.partition("=")[0] for h in answer.headers.getlist("Set-Cookie")]
        assert "myapp_session" in names
        assert "session_id" not in names

    @pytest.mark.parametrize("path", ["/profile", "/auth/verify", "/sessions"])
    def test_every_session_route_reads_the_chosen_name(
        self, renamed: FlaskClient, path: str
    ) -> None:
        log_in(renamed)
        assert renamed.get(path).status_code == 200
        value = renamed.get_cookie("myapp_session")
        assert value is not None
        stranger = renamed.application.test_client()
        stranger.set_cookie("session_id", value.value)
        assert stranger.get(path).status_code in (401, 403)

    def test_logout_clears_the_chosen_name(self, renamed: FlaskClient) -> None:
        log_in(renamed)
        answer = renamed.delete("/sessions")
        assert answer.status_code == 302
        assert any(h.startswith("myapp_session=;") for h in answer.headers.getlist("Set-Cookie"))
        assert renamed.get("/profile").status_code == 403

    def test_production_prefixes_the_chosen_name(self) -> None:
        cookies = CookieSettings(session_name="myapp_session")
        settings = Settings(env="production", cookies=cookies)
        assert settings.session_cookie_name == "__Host-myapp_session"
        with_domain = settings.with_sections(replace(cookies, domain="example.com"))
        assert with_domain.session_cookie_name == "myapp_session"

    def test_the_setting_is_read_from_the_environment(self) -> None:
        settings = Settings.from_env({"USERAUTH_SESSION_COOKIE": "myapp_session"})
        assert settings.session_cookie_name == "myapp_session"
        assert Settings.from_env({}).session_cookie_name == "session_id"

    @pytest.mark.parametrize(
        "name",
        ["my session", "a;b", "__Host-x", "__secure-x", "x" * 65, "sé"],
        ids=["space", "semicolon", "host-prefix", "secure-prefix", "too-long", "not-ascii"],
    )
    def test_a_name_a_browser_would_not_keep_is_refused_at_start_up(self, name: str) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_SESSION_COOKIE"):
            Settings.from_env({"USERAUTH_SESSION_COOKIE": name})
