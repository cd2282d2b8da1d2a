"""Issue 21 item 3, cookie tossing: a sibling subdomain plants `session_id=<attacker's>` with
`Domain=<parent>; Path=/profile`, which the browser sends before the victim's own.

A request that carries the session cookie more than once has no session — on the API (403),
the pages (logged out) and the gate (401, in Flask and in the hot path) — and its answer tells
the browser to drop every copy. In production without a cookie domain the cookie is
`__Host-session_id`, which no other host can set, so a planted `session_id` is ignored.
The browser's side is tests/browser/test_cookie_tossing.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
import requests
from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import ServerProcess
from tests.smtp import PRODUCTION_COOKIES, ServiceFactory
from tests.test_session_cache import warm
from userauth.auth import Auth
from userauth.settings import CookieSettings, RateLimitSettings, Settings
from userauth.web import create_app

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long passphrase"
VICTIM = "victim@example.com"
ATTACKER = "attacker@example.com"
HOST = "auth.example.test"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass(frozen=True)
class Sessions:
    """A live session of the victim and one of the attacker, on the same service."""

    victim: str
    attacker: str

    def cookie(self, template: str) -> str:
        return template.format(victim=self.victim, attacker=self.attacker)


def open_sessions(auth: Auth) -> Sessions:
    ids = []
    for email in (VICTIM, ATTACKER):
        auth.register_user(email, PASSWORD)
        result = auth.login(email, PASSWORD)
        assert result.session_id is not None
        ids.append(result.session_id)
    return Sessions(*ids)


@pytest.fixture
def sessions(auth: Auth) -> Sessions:
    return open_sessions(auth)


def send(
    app: Flask,
    method: str,
    path: str,
    cookie: str,
    *,
    host: str = HOST,
    scheme: str = "https",
    **form: str,
) -> TestResponse:
    """Send one request with exactly this Cookie header (no cookie jar)."""
    client = app.test_client(use_cookies=False)
    return client.open(
        path,
        method=method,
        headers={"Cookie": cookie},
        base_url=f"{scheme}://{host}",
        data=form or None,
    )


def expiries(response: TestResponse, name: str = "session_id") -> set[tuple[str, str | None]]:
    """Return the (Path, Domain) of every Set-Cookie that expires the cookie `name`."""
    found = set()
    for header in response.headers.getlist("Set-Cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        attributes = {key.lower(): value for key, _, value in (a.partition("=") for a in rest)}
        if first == f"{name}=" and attributes.get("max-age") == "0":
            found.add((attributes.get("path", ""), attributes.get("domain")))
    return found


ATTACKERS_FIRST = "session_id={attacker}; session_id={victim}"
# Each surface that reads the session: (method, path, form, the answer without a session).
SURFACES = {
    "profile": ("GET", "/profile", {}, 403),
    "list-sessions": ("GET", "/sessions", {}, 403),
    "logout": ("DELETE", "/sessions", {}, 403),
    "revoke-session": ("DELETE", "/sessions/1", {}, 403),
    "change-password": (
        "PUT",
        "/profile/password",
        {"password": PASSWORD, "new_password": NEW_PASSWORD},
        403,
    ),
    "gate": ("GET", "/auth/verify", {}, 401),
    "gate-redirect-mode": ("GET", "/auth/verify?redirect=true", {}, 302),
    "account-page": ("GET", "/auth/account", {}, 302),
}
# Ways a Cookie header can carry the name more than once.
TOSSED = {
    "attackers-first": ATTACKERS_FIRST,
    "victims-first": "session_id={victim}; session_id={attacker}",
    "no-space": "session_id={attacker};session_id={victim}",
    "quoted-copy": 'session_id="{attacker}"; session_id={victim}',
    "another-cookie-between": "session_id={attacker}; theme=dark; session_id={victim}",
    "same-value-twice": "session_id={victim}; session_id={victim}",
    "empty-copy-first": "session_id=; session_id={victim}",
    "three-copies": "session_id={attacker}; session_id={victim}; session_id={attacker}",
    # A browser never quotes: two planted cookies whose values are a lone `"` around the
    # victim's own made Werkzeug's parser read one quoted value, and one session cookie, the
    # attacker's (found by review).
    "quotes-hide-the-victims": 'session_id={attacker}; qa="; session_id={victim}; qz="',
    "quotes-hide-the-attackers": 'qa="; session_id={attacker}; qz="; session_id={victim}',
}


class TestSeveralSessionCookies:
    @pytest.mark.parametrize("surface", list(SURFACES.values()), ids=list(SURFACES))
    def test_a_request_with_two_session_cookies_has_no_session(
        self,
        app: Flask,
        auth: Auth,
        sessions: Sessions,
        surface: tuple[str, str, dict[str, str], int],
    ) -> None:
        method, path, form, status = surface
        response = send(app, method, path, sessions.cookie(ATTACKERS_FIRST), **form)

        assert response.status_code == status
        assert ATTACKER not in response.text
        if status == 302:
            assert "/auth/login" in response.headers["Location"]
        # Nothing was done as either of them.
        assert auth.resolve_session(sessions.attacker) is not None
        assert auth.resolve_session(sessions.victim) is not None
        assert auth.valid_login(ATTACKER, PASSWORD)

    @pytest.mark.parametrize("template", list(TOSSED.values()), ids=list(TOSSED))
    def test_every_way_of_sending_two_copies_counts_as_none(
        self, app: Flask, sessions: Sessions, template: str
    ) -> None:
        response = send(app, "GET", "/profile", sessions.cookie(template))

        assert (response.status_code, response.headers.get("Clear-Site-Data")) == (
            403,
            '"cookies"',
        )

    def test_the_login_page_asks_for_a_login_instead_of_going_on_as_someone(
        self, app: Flask, sessions: Sessions
    ) -> None:
        response = send(app, "GET", "/auth/login", sessions.cookie(ATTACKERS_FIRST))

        assert response.status_code == 200
        assert "Log in" in response.text

    def test_one_cookie_still_names_its_session_and_clears_nothing(
        self, app: Flask, sessions: Sessions
    ) -> None:
        response = send(app, "GET", "/profile", sessions.cookie("session_id={victim}"))

        assert response.get_json() == {"email": VICTIM}
        assert "Clear-Site-Data" not in response.headers
        assert "Set-Cookie" not in response.headers


class TestClearingEveryCopy:
    @pytest.mark.parametrize(
        ("path", "cleared"),
        [
            ("/profile", {("/", None), ("/profile", None), ("/profile", "example.test")}),
            (
                "/auth/verify",
                {("/auth", "example.test"), ("/auth/", None), ("/auth/verify", HOST)},
            ),
            (
                "/auth/account",
                {("/", "example.test"), ("/auth", None), ("/auth/account", "example.test")},
            ),
        ],
        ids=["profile", "gate", "account-page"],
    )
    def test_the_answer_expires_the_cookie_at_every_path_and_domain_it_may_have(
        self, app: Flask, sessions: Sessions, path: str, cleared: set[tuple[str, str | None]]
    ) -> None:
        response = send(app, "GET", path, sessions.cookie(ATTACKERS_FIRST))

        assert response.headers["Clear-Site-Data"] == '"cookies"'
        assert cleared <= expiries(response)
        # A public suffix is no Domain a browser accepts.
        assert all(domain != "test" for _, domain in expiries(response))

    def test_over_plain_http_the_expiries_come_without_clear_site_data(
        self, app: Flask, sessions: Sessions
    ) -> None:
        # Browsers ignore Clear-Site-Data from an insecure origin, and Chromium then also
        # drops the answer's Set-Cookie headers, the expiries included.
        response = send(app, "GET", "/profile", sessions.cookie(ATTACKERS_FIRST), scheme="http")

        assert response.status_code == 403
        assert "Clear-Site-Data" not in response.headers
        assert ("/profile", "example.test") in expiries(response)

    def test_the_configured_domain_is_cleared_too(self, make_auth: Callable[..., Auth]) -> None:
        auth = make_auth(CookieSettings(domain="example.test"))
        sessions = open_sessions(auth)
        app = create_app(auth.settings, auth)

        response = send(app, "GET", "/profile", sessions.cookie(ATTACKERS_FIRST), host="localhost")

        assert expiries(response) == {
            (path, domain) for path in ("/", "/profile") for domain in (None, "example.test")
        }

    def test_an_address_has_no_domain_to_clear(self, app: Flask, sessions: Sessions) -> None:
        response = send(
            app, "GET", "/profile", sessions.cookie(ATTACKERS_FIRST), host="127.0.0.1:5000"
        )

        assert expiries(response) == {("/", None), ("/profile", None)}

    def test_a_login_over_tossed_cookies_keeps_its_new_cookie(
        self, app: Flask, sessions: Sessions
    ) -> None:
        response = send(
            app,
            "POST",
            "/sessions",
            sessions.cookie(ATTACKERS_FIRST),
            email=VICTIM,
            password=PASSWORD,
        )

        assert response.status_code == 200
        assert "Clear-Site-Data" not in response.headers
        assert ("/", None) not in expiries(response)
        assert ("/sessions", "example.test") in expiries(response)
        [new] = [
            c
            for c in response.headers.getlist("Set-Cookie")
            if c.startswith("session_id=") and "Max-Age=0" not in c
        ]
        session_id = new.split(";")[0].removeprefix("session_id=")
        again = send(app, "GET", "/profile", f"session_id={session_id}")
        assert again.get_json() == {"email": VICTIM}


class TestHotPath:
    @pytest.mark.parametrize(("path", "status"), [("/auth/verify", 401), ("/profile", 403)])
    def test_cached_sessions_sent_twice_are_left_to_flask_which_refuses_them(
        self, app: Flask, auth: Auth, sessions: Sessions, path: str, status: int
    ) -> None:
        warm(auth, sessions.attacker)
        warm(auth, sessions.victim)
        assert send(app, "GET", path, sessions.cookie("session_id={attacker}")).status_code == 200

        response = send(app, "GET", path, sessions.cookie(ATTACKERS_FIRST))

        assert response.status_code == status
        assert response.headers["Clear-Site-Data"] == '"cookies"'

    @pytest.mark.slow
    def test_a_served_gate_refuses_two_cached_sessions(
        self, start_server: Callable[..., ServerProcess]
    ) -> None:
        server = start_server()
        ids = {}
        for email in (VICTIM, ATTACKER):
            account = {"email": email, "password": PASSWORD}
            assert requests.post(f"{server.url}/users", data=account, timeout=10).ok
            login = requests.post(f"{server.url}/sessions", data=account, timeout=10)
            ids[email] = login.cookies["session_id"]
            for _ in range(4):  # the worker's cache now holds it: the hot path answers
                check = requests.get(
                    f"{server.url}/auth/verify", cookies={"session_id": ids[email]}, timeout=10
                )
                assert check.status_code == 200
        sessions = Sessions(victim=ids[VICTIM], attacker=ids[ATTACKER])
        for template in (ATTACKERS_FIRST, TOSSED["quotes-hide-the-victims"]):
            tossed = {"Cookie": sessions.cookie(template)}

            gate = requests.get(f"{server.url}/auth/verify", headers=tossed, timeout=10)
            profile = requests.get(f"{server.url}/profile", headers=tossed, timeout=10)

            assert (gate.status_code, profile.status_code) == (401, 403), template
            # requests joins the Set-Cookie headers with commas.
            assert "session_id=; Max-Age=0; Path=/auth/verify" in gate.headers["Set-Cookie"]
            assert "session_id=; Max-Age=0; Path=/profile" in profile.headers["Set-Cookie"]


class TestHostPrefixInProduction:
    @pytest.mark.parametrize(
        ("environ", "name"),
        [
            ({}, "session_id"),
            ({"USERAUTH_ENV": "production"}, "__Host-session_id"),
            (
                {"USERAUTH_ENV": "production", "USERAUTH_COOKIE_DOMAIN": "example.com"},
                "session_id",
            ),
            ({"USERAUTH_COOKIE_DOMAIN": "example.com"}, "session_id"),
        ],
        ids=["development", "production", "production-with-a-domain", "development-with-a-domain"],
    )
    def test_the_cookie_name_is_host_prefixed_in_production_without_a_domain(
        self, environ: dict[str, str], name: str
    ) -> None:
        assert Settings.from_env(environ).session_cookie_name == name

    def test_production_sets_a_host_cookie(self, make_service: ServiceFactory) -> None:
        service = make_service()
        service.auth.register_user(VICTIM, PASSWORD)

        login = service.client.post("/sessions", data={"email": VICTIM, "password": PASSWORD})

        [cookie] = [c for c in login.headers.getlist("Set-Cookie") if "session_id=" in c]
        assert cookie.startswith("__Host-session_id=")
        attributes = [part.strip() for part in cookie.split(";")]
        assert {"Secure", "Path=/"} <= set(attributes)
        assert not any(part.startswith("Domain=") for part in attributes)

    @pytest.mark.parametrize(
        ("path", "answer"),
        [("/profile", {"email": VICTIM}), ("/auth/verify", {"email": VICTIM})],
        ids=["profile", "gate"],
    )
    def test_a_planted_unprefixed_cookie_is_ignored(
        self, make_service: ServiceFactory, path: str, answer: dict[str, str]
    ) -> None:
        service = make_service()
        sessions = open_sessions(service.auth)
        cookie = sessions.cookie("session_id={attacker}; __Host-session_id={victim}")

        response = send(service.app, "GET", path, cookie, host="auth.example.com")

        assert response.status_code == 200
        assert {key: response.get_json()[key] for key in answer} == answer
        assert "Clear-Site-Data" not in response.headers

    def test_an_unprefixed_cookie_alone_is_no_session(self, make_service: ServiceFactory) -> None:
        service = make_service()
        sessions = open_sessions(service.auth)

        response = send(service.app, "GET", "/profile", sessions.cookie("session_id={victim}"))

        assert response.status_code == 403

    def test_with_a_cookie_domain_production_keeps_the_designs_name(
        self, make_service: ServiceFactory
    ) -> None:
        service = make_service("production", replace(PRODUCTION_COOKIES, domain="example.com"))
        service.auth.register_user(VICTIM, PASSWORD)

        login = service.client.post("/sessions", data={"email": VICTIM, "password": PASSWORD})

        [cookie] = [c for c in login.headers.getlist("Set-Cookie") if "session_id=" in c]
        assert cookie.startswith("session_id=")
        assert "Domain=example.com" in cookie

    def test_the_openapi_document_names_the_production_cookie(
        self, make_service: ServiceFactory
    ) -> None:
        document = make_service().client.get("/openapi.json").get_json()

        assert document["components"]["securitySchemes"]["sessionCookie"]["name"] == (
            "__Host-session_id"
        )


class TestTossingClearsNoFailureCount:
    """A request that has no session (its cookie sent twice) is no proof of a password: its
    answer, a page's 302 to the login form, must not clear the failed-attempt counts."""

    def test_a_stolen_session_cannot_reset_its_password_change_failures(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(RateLimitSettings(login_failures="3/minute"))
        app = create_app(auth.settings, auth)
        stolen = open_sessions(auth).victim
        wrong = {"password": "not the password", "new_password": NEW_PASSWORD}
        pages = app.test_client()
        token = CSRF.search(pages.get("/auth/login").get_data(as_text=True))
        assert token is not None
        form_cookie = pages.get_cookie("userauth_form")
        assert form_cookie is not None
        doubled = f"session_id={stolen}; session_id={stolen}; userauth_form={form_cookie.value}"

        statuses = []
        for _ in range(2):
            statuses.append(send(app, "PUT", "/profile/password", f"session_id={stolen}", **wrong))
        cleared = app.test_client(use_cookies=False).post(
            "/auth/account/password",
            headers={"Cookie": doubled},
            # Plain http: over https Flask-WTF also wants a same-origin Referer.
            base_url=f"http://{HOST}",
            data={"csrf_token": token.group(1), **wrong},
        )
        for _ in range(2):
            statuses.append(send(app, "PUT", "/profile/password", f"session_id={stolen}", **wrong))

        assert cleared.status_code == 302
        assert [answer.status_code for answer in statuses] == [403, 403, 403, 429]
