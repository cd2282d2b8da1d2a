"""CORS: credentialed answers for the listed origins, nothing for any other, none by default."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.route_table import STATE_CHANGING_ROUTES, routes_of
from userauth.auth import Auth
from userauth.settings import ServerSettings, Settings, SettingsError, WebSettings
from userauth.web import create_app
from userauth.web.cors import STATE_CHANGING

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = pytest.mark.databases("sqlite")

ALLOWED = "https://app.example.com"


@pytest.fixture
def cors_client(make_auth: Callable[..., Auth]) -> FlaskClient:
    auth = make_auth(WebSettings(cors_origins=(ALLOWED, "http://localhost:3000")))
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
        assert settings.web.cors_origins == ("https://a.example.com", "http://x:8080")

    @pytest.mark.parametrize(
        "value", ["*", "app.example.com", "https://app.example.com/path", "https://*.example.com"]
    )
    def test_refuses_anything_but_origins(self, value: str) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_CORS_ORIGINS"):
            Settings.from_env({"USERAUTH_CORS_ORIGINS": value})


SITE = "https://auth.example.com"
# Headers of a browser that sends no Sec-Fetch-Site, from a page that is not this site's.
OTHER_PAGES = {
    "other-origin": {"Origin": "https://evil.example"},
    "null-origin": {"Origin": "null"},
    "other-scheme": {"Origin": "http://auth.example.com"},
    "other-port": {"Origin": "https://auth.example.com:8443"},
    "sibling-subdomain": {"Origin": "https://evil.example.com"},
    "suffix-trick": {"Origin": "https://auth.example.com.evil.example"},
    "origin-with-a-path": {"Origin": "https://auth.example.com/auth/login"},
    "origin-wins-over-referer": {"Origin": "https://evil.example", "Referer": f"{SITE}/"},
    "referer-other-origin": {"Referer": "https://evil.example/win-a-prize"},
    "referer-suffix-trick": {"Referer": "https://auth.example.com.evil.example/"},
    "referer-userinfo-trick": {"Referer": "https://auth.example.com@evil.example/"},
    "referer-not-a-url": {"Referer": "win-a-prize"},
}
# Headers of requests that must be served as before: programs, and this site's own pages.
THIS_SITE = {
    "a-program": {},
    "same-origin": {"Origin": SITE},
    "same-origin-default-port": {"Origin": "https://auth.example.com:443"},
    "same-origin-capitals": {"Origin": "https://AUTH.example.com"},
    "same-origin-referer": {"Referer": f"{SITE}/auth/login?next=/"},
    "empty-origin-and-referer": {"Origin": "", "Referer": ""},
}
FORM = {"email": "ann@example.com", "password": "a password", "new_password": "a new one"}
# Where every variant of the headers is tried: the API's login and the login page.
SAMPLE_ROUTES = [STATE_CHANGING_ROUTES["login"], STATE_CHANGING_ROUTES["page-login"]]


def refused(answer: TestResponse) -> bool:
    """Tell whether this is the cross-site refusal (JSON on the API, a page under /auth/)."""
    return answer.status_code == 403 and "cross-site request refused" in answer.text


def write(client: FlaskClient, route: tuple[str, str], headers: dict[str, str]) -> TestResponse:
    method, path = route
    return client.open(path, method=method, data=FORM, headers=headers, base_url=SITE)


class TestWritesWithoutFetchMetadata:
    """OWASP CSRF Prevention Cheat Sheet, "Verifying Origin With Standard Headers": without
    Sec-Fetch-Site (older browsers; any browser over plain http), the Origin, else the
    Referer, must be this site's or an allowed one."""

    def test_another_sites_login_is_refused_and_sets_no_cookie(self, client: FlaskClient) -> None:
        form = {"email": "mallory@example.com", "password": "a password"}
        assert client.post("/users", data=form).status_code == 200

        answer = client.post("/sessions", data=form, headers={"Origin": "https://evil.example"})

        assert (answer.status_code, answer.json) == (
            403,
            {"message": "cross-site request refused"},
        )
        assert "Set-Cookie" not in answer.headers

    @pytest.mark.parametrize("headers", list(OTHER_PAGES.values()), ids=list(OTHER_PAGES))
    @pytest.mark.parametrize("route", SAMPLE_ROUTES, ids=["api-login", "page-login"])
    def test_a_write_from_another_page_is_refused(
        self, client: FlaskClient, route: tuple[str, str], headers: dict[str, str]
    ) -> None:
        assert refused(write(client, route, headers))

    @pytest.mark.parametrize("headers", list(THIS_SITE.values()), ids=list(THIS_SITE))
    @pytest.mark.parametrize("route", SAMPLE_ROUTES, ids=["api-login", "page-login"])
    def test_programs_and_this_sites_pages_are_served(
        self, client: FlaskClient, route: tuple[str, str], headers: dict[str, str]
    ) -> None:
        assert not refused(write(client, route, headers))

    @pytest.mark.parametrize(
        "route", list(STATE_CHANGING_ROUTES.values()), ids=list(STATE_CHANGING_ROUTES)
    )
    def test_every_state_changing_route_checks_the_sending_page(
        self, cors_client: FlaskClient, route: tuple[str, str]
    ) -> None:
        refusals = [
            refused(write(cors_client, route, OTHER_PAGES[name]))
            for name in ("other-origin", "null-origin", "referer-other-origin")
        ]
        served = [
            refused(write(cors_client, route, headers))
            for headers in (
                THIS_SITE["a-program"],
                THIS_SITE["same-origin"],
                THIS_SITE["same-origin-referer"],
                {"Origin": ALLOWED},
                {"Referer": f"{ALLOWED}/settings"},
            )
        ]
        assert refusals == [True] * 3
        assert served == [False] * 5

    def test_a_same_origin_login_logs_in(self, client: FlaskClient) -> None:
        form = {"email": "ann@example.com", "password": "a password"}
        client.post("/users", data=form)

        answer = client.post("/sessions", data=form, headers={"Origin": SITE}, base_url=SITE)

        assert answer.status_code == 200
        assert answer.headers["Set-Cookie"].startswith("session_id=")

    def test_the_table_names_every_state_changing_route(self, app: Flask) -> None:
        assert routes_of(app, STATE_CHANGING) == set(STATE_CHANGING_ROUTES.values())


class TestThisSiteBehindAProxy:
    """This site is the one the client reached: the forwarded host, behind a trusted proxy."""

    @pytest.fixture
    def proxied(self, make_auth: Callable[..., Auth]) -> FlaskClient:
        auth = make_auth(ServerSettings(trusted_proxies=1))
        return create_app(auth.settings, auth).test_client()

    @pytest.mark.parametrize(
        ("origin", "served"),
        [(SITE, True), ("http://127.0.0.1:5000", False)],
        ids=["the-public-origin", "the-proxys-upstream"],
    )
    def test_the_origin_is_compared_with_the_forwarded_host(
        self, proxied: FlaskClient, origin: str, served: bool
    ) -> None:
        answer = proxied.post(
            "/users",
            data=FORM,
            base_url="http://127.0.0.1:5000",
            headers={
                "Origin": origin,
                "X-Forwarded-Host": "auth.example.com",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": "203.0.113.9",
            },
        )
        assert refused(answer) is not served
