"""The gate behind real proxies: Debian's nginx (auth_request) and Caddy (forward_auth).

Each test runs `userauth serve`, a tiny upstream app that echoes what reaches it, and the
proxy from the README's own snippets in front of both, all on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tests.conftest import ServerProcess
from tests.proxy_servers import ProxyProcess, start_caddy, start_nginx, upstream
from tests.second_factor import oathtool_code

EMAIL = "ann@example.com"
PASSWORD = "ann's password"
TIMEOUT = 10
APP_PATH = "/dashboard?tab=1&sort=name"
FORGED = {
    "X-Auth-Request-User": "1",
    "X-Auth-Request-Email": "admin@example.com",
    # CGI, PHP and Rack read these as the same headers.
    "X-Auth-Request_User": "1",
    "X-Auth-Request_Email": "admin@example.com",
}

pytestmark = pytest.mark.slow

StartProxy = Callable[[Path, int, int], ProxyProcess]


class Stack:
    """userauth, the upstream app and a proxy in front; requests go through the proxy."""

    def __init__(self, userauth: ServerProcess, proxy: ProxyProcess) -> None:
        self.userauth, self.proxy = userauth, proxy

    def log_in(self) -> requests.Session:
        """Return a browser-like session logged in through the proxy's JSON API."""
        browser = requests.Session()
        answer = browser.post(
            f"{self.proxy.url}/auth/api/sessions",
            data={"email": EMAIL, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        return browser

    def app(
        self, browser: requests.Session, headers: dict[str, str] | None = None
    ) -> requests.Response:
        return browser.get(
            f"{self.proxy.url}{APP_PATH}",
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
        )


@pytest.fixture(params=[start_nginx, start_caddy], ids=["nginx", "caddy"])
def stack(
    request: pytest.FixtureRequest,
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
) -> Iterator[Stack]:
    start_proxy: StartProxy = request.param
    userauth = start_server(USERAUTH_REDIRECT_HOSTS="127.0.0.1")
    registered = requests.post(
        f"{userauth.url}/users", data={"email": EMAIL, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert registered.status_code == 200
    with upstream() as upstream_port:
        proxy = start_proxy(tmp_path, userauth.port, upstream_port)
        try:
            yield Stack(userauth, proxy)
        finally:
            proxy.stop()


def seen_by_app(answer: requests.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    headers: dict[str, Any] = answer.json()["headers"]
    return headers


class TestBehindAProxy:
    def test_an_anonymous_visitor_is_sent_to_the_login_page_with_the_way_back(
        self, stack: Stack
    ) -> None:
        answer = stack.app(requests.Session())
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query)["next"] == [f"{stack.proxy.url}{APP_PATH}"]

    def test_a_logged_in_visitor_reaches_the_app_with_the_identity_headers(
        self, stack: Stack
    ) -> None:
        headers = seen_by_app(stack.app(stack.log_in()))
        assert headers["X-Auth-Request-Email"] == EMAIL
        assert headers["X-Auth-Request-User"].isdigit()

    def test_the_json_api_answers_through_the_proxy_under_auth_api(self, stack: Stack) -> None:
        browser = stack.log_in()
        profile = browser.get(f"{stack.proxy.url}/auth/api/profile", timeout=TIMEOUT)
        assert (profile.status_code, profile.json()) == (200, {"email": EMAIL})
        sessions = browser.get(f"{stack.proxy.url}/auth/api/sessions", timeout=TIMEOUT)
        assert [s["current"] for s in sessions.json()["sessions"]] == [True]

    def test_the_app_gets_the_browsers_cookies_but_not_the_session_cookie(
        self, stack: Stack
    ) -> None:
        browser = stack.log_in()
        session_id = browser.cookies["session_id"]
        browser.cookies.set("theme", "dark")
        browser.cookies.set("cart", "3")
        headers = seen_by_app(stack.app(browser))
        cookies = headers.get("Cookie", "")
        assert session_id not in cookies
        assert "session_id" not in cookies
        # userauth's device cookie may pass: an HMAC entry that names no session and logs
        # nobody in (it only gives a known device its own failed-login budget).
        passed = [part.strip() for part in cookies.split(";") if part.strip()]
        assert sorted(p for p in passed if not p.startswith("userauth_device=")) == [
            "cart=3",
            "theme=dark",
        ]

    @pytest.mark.parametrize(
        ("arrangement", "left"),
        [
            ("session_id={id}", ""),
            ("session_id={id}; theme=dark", "theme=dark"),
            ("theme=dark; session_id={id}", "theme=dark"),
            ("theme=dark; session_id={id}; cart=3", "theme=dark; cart=3"),
            ("theme=dark;session_id={id};x_session_id=7", "theme=dark;x_session_id=7"),
        ],
        ids=["alone", "first", "last", "middle", "no-spaces-and-a-lookalike"],
    )
    def test_wherever_the_session_cookie_stands_the_app_never_gets_it(
        self, stack: Stack, arrangement: str, left: str
    ) -> None:
        session_id = stack.log_in().cookies["session_id"]
        cookie = arrangement.format(id=session_id)
        headers = seen_by_app(stack.app(requests.Session(), headers={"Cookie": cookie}))
        assert headers.get("Cookie", "").strip("; ") == left

    def test_a_logout_elsewhere_is_refused_on_the_very_next_request(self, stack: Stack) -> None:
        browser = stack.log_in()
        seen_by_app(stack.app(browser))
        cookie = browser.cookies["session_id"]
        ended = requests.delete(
            f"{stack.userauth.url}/sessions",
            cookies={"session_id": cookie},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert ended.status_code == 302
        assert stack.app(browser).status_code == 302

    def test_a_revocation_from_another_device_is_refused_on_the_very_next_request(
        self, stack: Stack
    ) -> None:
        browser, other = stack.log_in(), stack.log_in()
        seen_by_app(stack.app(browser))
        listed = other.get(f"{stack.userauth.url}/sessions", timeout=TIMEOUT).json()["sessions"]
        [first] = [s for s in listed if not s["current"]]
        revoked = other.delete(f"{stack.userauth.url}/sessions/{first['id']}", timeout=TIMEOUT)
        assert revoked.status_code == 200
        assert stack.app(browser).status_code == 302
        seen_by_app(stack.app(other))

    @pytest.mark.parametrize(
        "connection",
        [
            "close, X-Auth-Request-User, X-Auth-Request-Email",
            "keep-alive, x-auth-request-user",
            "X-Auth-Request-Email",
            "X-Auth-Request_User, X-Auth-Request_Email, close",
        ],
        ids=["both-and-close", "lower-case-user", "email-only", "underscore-spellings"],
    )
    def test_a_clients_connection_header_cannot_strip_the_identity_headers(
        self, stack: Stack, connection: str
    ) -> None:
        # Hop-by-hop names a client lists in Connection are removed by a proxy before it
        # forwards (RFC 9110 7.6.1): listed after the gate's answer was copied in, they
        # would reach the app as no identity at all (issue 21, item 4).
        headers = seen_by_app(stack.app(stack.log_in(), headers={"Connection": connection}))
        assert headers.get("X-Auth-Request-Email") == EMAIL
        assert headers.get("X-Auth-Request-User", "").isdigit()

    def test_forged_identity_headers_never_reach_the_app(self, stack: Stack) -> None:
        assert stack.app(requests.Session(), headers=FORGED).status_code == 302
        headers = seen_by_app(stack.app(stack.log_in(), headers=FORGED))
        assert headers["X-Auth-Request-Email"] == EMAIL
        assert "admin@example.com" not in headers.values()
        assert not {name.lower() for name in headers} & {
            "x-auth-request_user",
            "x-auth-request_email",
        }


ADMIN_PATH = "/admin/users"


def level(headers: dict[str, Any]) -> str | None:
    """The AAL header the app got (Caddy spells it as Go does, X-Auth-Request-Aal)."""
    found: str | None = CaseInsensitiveDict(headers).get("X-Auth-Request-AAL")
    return found


class TestAPathThatNeedsTwoFactors:
    """The README's snippets protect /admin/ with `?aal=2` (issue 24)."""

    def admin(self, stack: Stack, browser: requests.Session) -> requests.Response:
        return browser.get(
            f"{stack.proxy.url}{ADMIN_PATH}", allow_redirects=False, timeout=TIMEOUT
        )

    def test_a_password_session_is_sent_to_log_in_again(self, stack: Stack) -> None:
        browser = stack.log_in()
        assert level(seen_by_app(stack.app(browser))) == "1"
        answer = self.admin(stack, browser)
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query)["next"] == [f"{stack.proxy.url}{ADMIN_PATH}"]

    def test_a_session_made_with_a_second_factor_reaches_it(self, stack: Stack) -> None:
        owner = stack.log_in()
        api = f"{stack.proxy.url}/auth/api"
        secret = owner.post(f"{api}/factors/totp", timeout=TIMEOUT).json()["secret"]
        code = oathtool_code(secret, datetime.now(UTC))
        confirmed = owner.put(f"{api}/factors/totp", data={"code": code}, timeout=TIMEOUT)
        recovery_code = confirmed.json()["recovery_codes"][0]

        browser = requests.Session()
        first = browser.post(
            f"{api}/sessions", data={"email": EMAIL, "password": PASSWORD}, timeout=TIMEOUT
        )
        assert first.json()["message"] == "second factor required"
        second = browser.post(
            f"{api}/sessions/second-factor", data={"code": recovery_code}, timeout=TIMEOUT
        )
        assert second.status_code == 200, second.text
        headers = seen_by_app(self.admin(stack, browser))
        assert level(headers) == "2"
        assert headers["X-Auth-Request-Email"] == EMAIL

    def test_a_forged_level_never_reaches_the_app(self, stack: Stack) -> None:
        browser = stack.log_in()
        forged = {"X-Auth-Request-AAL": "2", "X-Auth-Request_AAL": "2"}
        headers = seen_by_app(stack.app(browser, headers=forged))
        assert level(headers) == "1"
        assert "x-auth-request_aal" not in {name.lower() for name in headers}
        assert self.admin(stack, browser).status_code == 302
