"""CORS: credentialed answers for the listed origins, nothing for any other, none by default."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from userauth.auth import Auth
from userauth.settings import Settings, SettingsError
from userauth.web import create_app

ALLOWED = "https://app.example.com"


@pytest.fixture
def cors_client(make_auth: Callable[..., Auth]) -> FlaskClient:
    auth = make_auth(cors_origins=(ALLOWED, "http://localhost:3000"))
    return create_app(auth.settings, auth).test_client()


def preflight(client: FlaskClient, origin: str) -> dict[str, str]:
    answer = client.options(
        "/sessions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    return {k: v for k, v in answer.headers.items() if k.startswith("Access-Control-")}


class TestListedOrigin:
    def test_a_preflight_is_allowed_with_credentials(self, cors_client: FlaskClient) -> None:
        headers = preflight(cors_client, ALLOWED)
        assert headers["Access-Control-Allow-Origin"] == ALLOWED
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in headers["Access-Control-Allow-Methods"]

    def test_an_answer_names_the_origin_never_a_wildcard(self, cors_client: FlaskClient) -> None:
        answer = cors_client.get("/", headers={"Origin": ALLOWED})
        assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert answer.headers["Access-Control-Allow-Credentials"] == "true"
        # Vary may come as several header lines (GET / adds its own: Accept); RFC 9110 5.3.
        assert "Origin" in ", ".join(answer.headers.getlist("Vary"))


class TestNoOrigin:
    def test_a_request_without_origin_gets_no_cors_header(self, cors_client: FlaskClient) -> None:
        assert "Access-Control-Allow-Origin" not in cors_client.get("/").headers

    def test_the_html_pages_get_no_cors_header(self, cors_client: FlaskClient) -> None:
        page = cors_client.get("/auth/login", headers={"Origin": ALLOWED})
        assert "Access-Control-Allow-Origin" not in page.headers


class TestCrossSiteWrites:
    """A browser's request from another site's page cannot change anything (login CSRF)."""

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/sessions"),
            ("POST", "/users"),
            ("POST", "/reset_password"),
            ("PUT", "/reset_password"),
            ("DELETE", "/sessions"),
            ("PUT", "/profile/password"),
        ],
    )
    @pytest.mark.parametrize("fetch_site", ["cross-site", "same-site"])
    def test_are_refused_with_403(
        self, client: FlaskClient, method: str, path: str, fetch_site: str
    ) -> None:
        answer = client.open(
            path,
            method=method,
            data={"email": "ann@example.com", "password": "a password"},
            headers={"Sec-Fetch-Site": fetch_site, "Origin": "https://evil.example"},
        )
        assert (answer.status_code, answer.json) == (
            403,
            {"message": "cross-site request refused"},
        )

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}],
        ids=["a-program", "this-sites-page", "typed-by-the-user"],
    )
    def test_programs_and_this_sites_pages_are_served(
        self, client: FlaskClient, headers: dict[str, str]
    ) -> None:
        form = {"email": "ann@example.com", "password": "a password"}
        assert client.post("/users", data=form, headers=headers).status_code == 200

    def test_a_listed_origin_may_write(self, cors_client: FlaskClient) -> None:
        answer = cors_client.post(
            "/users",
            data={"email": "ann@example.com", "password": "a password"},
            headers={"Sec-Fetch-Site": "cross-site", "Origin": ALLOWED},
        )
        assert answer.status_code == 200

    def test_reads_are_not_refused(self, client: FlaskClient) -> None:
        answer = client.get("/", headers={"Sec-Fetch-Site": "cross-site"})
        assert answer.status_code == 200


class TestOtherOrigins:
    @pytest.mark.parametrize(
        "origin",
        [
            "https://evil.example",
            "https://app.example.com.evil.example",
            "http://app.example.com",
            "null",
        ],
        ids=["other-host", "suffix-trick", "other-scheme", "null-origin"],
    )
    def test_get_no_cors_header(self, cors_client: FlaskClient, origin: str) -> None:
        assert preflight(cors_client, origin) == {}
        answer = cors_client.get("/", headers={"Origin": origin})
        assert "Access-Control-Allow-Origin" not in answer.headers

    def test_nothing_is_allowed_by_default(self, client: FlaskClient) -> None:
        assert preflight(client, ALLOWED) == {}


class TestSetting:
    def test_reads_a_comma_separated_list(self) -> None:
        settings = Settings.from_env(
            {"USERAUTH_CORS_ORIGINS": "https://A.example.com, http://x:8080"}
        )
        assert settings.cors_origins == ("https://a.example.com", "http://x:8080")

    @pytest.mark.parametrize(
        "value", ["*", "app.example.com", "https://app.example.com/path", "https://*.example.com"]
    )
    def test_refuses_anything_but_origins(self, value: str) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_CORS_ORIGINS"):
            Settings.from_env({"USERAUTH_CORS_ORIGINS": value})
