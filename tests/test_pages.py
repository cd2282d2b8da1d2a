"""The hosted pages under /auth/, through Flask's test client: forms, CSRF, policy, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.smtp import PRODUCTION_SECURITY
from userauth.auth import Auth
from userauth.settings import GateSettings, RateLimitSettings, Section, WebSettings
from userauth.web import create_app

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL"); the tests marked databases("sqlite", "postgres") below run on both.
pytestmark = pytest.mark.databases("sqlite")

EMAIL = "ann@example.com"
PASSWORD = "ann's long password"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

MakeClient = Callable[..., FlaskClient]

# The pages' one script (userauth/web/static/passkeys.js).
OUR_SCRIPT = '<script src="/auth/static/passkeys.js" defer></script>'


@pytest.fixture
def make_client(make_auth: Callable[..., Auth]) -> MakeClient:
    def build(*sections: Section) -> FlaskClient:
        auth = make_auth(*sections)
        return create_app(auth.settings, auth).test_client()

    return build


@pytest.fixture
def browser(make_client: MakeClient) -> FlaskClient:
    return make_client(GateSettings(redirect_hosts=("app.example.com",)))


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found is not None, page.get_data(as_text=True)
    return found.group(1)


def submit(client: FlaskClient, path: str, form_page: str, **fields: str) -> TestResponse:
    """Post a page's form the way a browser does: with the token of the page it came from."""
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **fields})


def sign_up(client: FlaskClient, email: str = EMAIL) -> TestResponse:
    return submit(client, "/auth/signup", "/auth/signup", email=email, password=PASSWORD)


def log_in(client: FlaskClient, password: str = PASSWORD, **extra: str) -> TestResponse:
    return submit(client, "/auth/login", "/auth/login", email=EMAIL, password=password, **extra)


def live_reset_link(client: FlaskClient) -> str:
    """Sign up (from another browser) and ask for a reset; return the link development shows."""
    sign_up(client.application.test_client())
    answer = submit(client, "/auth/forgot", "/auth/forgot", email=EMAIL)
    link = re.search(r'href="(/auth/reset\?token=[^"]+)"', answer.get_data(as_text=True))
    assert link is not None
    return link.group(1)


class TestRendering:
    @pytest.mark.parametrize("path", ["/auth/login", "/auth/signup", "/auth/forgot", "reset"])
    def test_each_form_page_is_html_with_labelled_fields_and_a_strict_csp(
        self, browser: FlaskClient, path: str
    ) -> None:
        page = browser.get(live_reset_link(browser) if path == "reset" else path)
        html = page.get_data(as_text=True)
        assert (page.status_code, page.mimetype) == (200, "text/html")
        for field_id in re.findall(r'<input id="([^"]+)" name="[^"]+" type="(?!hidden)', html):
            assert f'<label for="{field_id}">' in html
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        # One script, our own file (issue 25: passkeys), nothing inline, nothing elsewhere.
        assert "script-src 'self';" in policy
        assert "unsafe" not in policy
        assert set(re.findall(r"<script[^>]*>.*?</script>", html, flags=re.S)) <= {OUR_SCRIPT}
        assert "style=" not in html

    def test_the_stylesheet_is_served(self, browser: FlaskClient) -> None:
        answer = browser.get("/auth/static/userauth.css")
        answer.close()
        assert (answer.status_code, answer.mimetype) == (200, "text/css")


class TestCsrf:
    @pytest.mark.parametrize(
        "path",
        [
            "/auth/login",
            "/auth/signup",
            "/auth/forgot",
            "/auth/reset",
            "/auth/logout",
            "/auth/account/password",
            "/auth/account/sessions/1/revoke",
            "/auth/account/sessions/revoke-others",
        ],
    )
    def test_a_post_without_the_forms_token_is_refused(
        self, browser: FlaskClient, path: str
    ) -> None:
        answer = browser.post(path, data={"email": EMAIL, "password": PASSWORD})
        assert answer.status_code == 400
        assert "came from another site" in answer.get_data(as_text=True)

    def test_a_token_from_another_browser_is_refused(self, make_client: MakeClient) -> None:
        mine, theirs = make_client(), make_client()
        token = csrf_token(theirs, "/auth/signup")
        answer = mine.post(
            "/auth/signup", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
        )
        assert answer.status_code == 400


class TestOverHttps:
    """Behind TLS the browser must send a same-origin Referer: Flask-WTF checks it there."""

    def test_pages_let_the_browser_send_a_same_origin_referer(self, browser: FlaskClient) -> None:
        page = browser.get("/auth/login", base_url="https://auth.example.com")
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert browser.get("/", base_url="https://auth.example.com").headers[
            "Referrer-Policy"
        ] == ("no-referrer")

    def test_a_form_posted_over_https_from_its_page_is_accepted(
        self, browser: FlaskClient
    ) -> None:
        https = "https://auth.example.com"
        token = CSRF.search(browser.get("/auth/signup", base_url=https).get_data(as_text=True))
        assert token is not None
        answer = browser.post(
            "/auth/signup",
            base_url=https,
            data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD},
            headers={"Referer": f"{https}/auth/signup"},
        )
        assert answer.status_code == 302


class TestTheScript:
    def test_it_is_served_from_this_site(self, browser: FlaskClient) -> None:
        answer = browser.get("/auth/static/passkeys.js")
        answer.close()
        assert (answer.status_code, answer.mimetype) == (200, "text/javascript")

    def test_the_login_page_offers_passkeys_in_autofill_and_a_button(
        self, browser: FlaskClient
    ) -> None:
        html = browser.get("/auth/login").get_data(as_text=True)
        assert 'autocomplete="username webauthn"' in html
        assert "Sign in with a passkey" in html
        assert OUR_SCRIPT in html


class TestCspAgreesWithTheAllowedHosts:
    def test_form_action_covers_both_schemes_any_port_and_the_bare_domain(
        self, make_client: MakeClient
    ) -> None:
        client = make_client(GateSettings(redirect_hosts=("app.example.com", ".example.org")))
        policy = client.get("/auth/login").headers["Content-Security-Policy"]
        for source in (
            "https://app.example.com:*",
            "http://app.example.com:*",
            "https://example.org:*",
            "https://*.example.org:*",
        ):
            assert source in policy


class TestOddBodies:
    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("application/json", "5"),
            ("application/json", "[1, 2]"),
            ("application/json", '{"email": 1, "password": true}'),
        ],
        ids=["json-number", "json-list", "json-wrong-types"],
    )
    def test_a_body_that_is_not_a_form_is_a_400_page(
        self, browser: FlaskClient, content_type: str, body: str
    ) -> None:
        token = csrf_token(browser, "/auth/login")
        answer = browser.post(
            "/auth/login",
            data=body,
            headers={"Content-Type": content_type, "X-CSRFToken": token},
        )
        assert answer.status_code == 400
        assert answer.mimetype == "text/html"


class TestSignUpAndLogIn:
    # The pages' one path that writes an account and a session: both databases.
    @pytest.mark.databases("sqlite", "postgres")
    def test_sign_up_logs_in_and_returns_to_next(self, browser: FlaskClient) -> None:
        answer = submit(
            browser,
            "/auth/signup",
            "/auth/signup?next=/dashboard",
            email=EMAIL,
            password=PASSWORD,
            next="/dashboard",
        )
        assert (answer.status_code, answer.location) == (302, "/dashboard")
        assert browser.get("/profile").json == {"email": EMAIL}

    def test_sign_up_without_next_lands_on_the_account_page(self, browser: FlaskClient) -> None:
        assert sign_up(browser).location == "/auth/account"
        assert browser.get("/auth/account").status_code == 200

    @pytest.mark.databases("sqlite", "postgres")
    def test_log_in_sets_the_session_cookie(self, browser: FlaskClient) -> None:
        sign_up(browser.application.test_client())
        logged_in = log_in(browser)
        assert (logged_in.status_code, logged_in.location) == (302, "/auth/account")
        assert browser.get("/profile").json == {"email": EMAIL}

    @pytest.mark.parametrize(
        ("next_url", "lands_on"),
        [
            ("/dashboard?tab=1", "/dashboard?tab=1"),
            ("https://app.example.com/x", "https://app.example.com/x"),
            ("https://evil.example/", "/auth/account"),
            ("//evil.example", "/auth/account"),
            ("/\\evil.example", "/auth/account"),
        ],
        ids=["path", "allowed-host", "other-host", "scheme-relative", "backslash"],
    )
    def test_log_in_returns_only_to_an_allowed_next(
        self, browser: FlaskClient, next_url: str, lands_on: str
    ) -> None:
        sign_up(browser.application.test_client())
        assert log_in(browser, next=next_url).location == lands_on

    def test_a_wrong_password_is_a_401_with_the_error_next_to_the_field(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser.application.test_client())
        answer = log_in(browser, password="not it")
        html = answer.get_data(as_text=True)
        assert answer.status_code == 401
        assert 'aria-describedby="password-error"' in html
        assert '<p class="field-error" id="password-error">wrong email or password</p>' in html
        assert browser.get_cookie("session_id") is None

    def test_a_taken_email_is_shown_next_to_the_field_in_development(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser)
        answer = sign_up(browser)
        assert answer.status_code == 400
        assert 'id="email-error"' in answer.get_data(as_text=True)

    def test_production_answers_a_taken_email_as_a_new_one_and_logs_in_neither(
        self, make_service: Callable[..., object]
    ) -> None:
        service = make_service("production", replace(PRODUCTION_SECURITY, secret_key="x" * 32))
        client: FlaskClient = service.client  # type: ignore[attr-defined]
        first, second = sign_up(client), sign_up(client)
        assert (first.status_code, first.location) == (second.status_code, second.location)
        assert first.location == "/auth/login?next=/auth/account"
        assert client.get_cookie("session_id") is None


# A reset token made, mailed as a link and spent through the pages: both databases.
@pytest.mark.databases("sqlite", "postgres")
class TestResetByLink:
    def test_forgot_shows_the_link_in_development_and_the_link_resets(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser)
        answer = submit(browser, "/auth/forgot", "/auth/forgot", email=EMAIL)
        link = re.search(r'href="(/auth/reset\?token=[^"]+)"', answer.get_data(as_text=True))
        assert link is not None
        token = link.group(1).split("token=")[1]
        reset = submit(browser, "/auth/reset", link.group(1), token=token, new_password="n" * 12)
        assert (reset.status_code, reset.location) == (302, "/auth/login")
        assert log_in(browser, password="n" * 12).status_code == 302

    def test_the_reset_page_has_no_email_field(self, browser: FlaskClient) -> None:
        link = live_reset_link(browser)
        html = browser.get(link).get_data(as_text=True)
        assert 'name="email"' not in html
        assert f'value="{link.split("token=")[1]}"' in html

    @pytest.mark.parametrize("dead", ["unknown", "used", "expired"])
    def test_a_dead_link_says_so_when_opened(
        self, browser: FlaskClient, clock: FakeClock, dead: str
    ) -> None:
        link = live_reset_link(browser)
        if dead == "unknown":
            link = link.replace("token=", "token=x")
        elif dead == "used":
            token = link.split("token=")[1]
            submit(browser, "/auth/reset", link, token=token, new_password="n" * 12)
        else:
            clock.advance(days=1)
        answer = browser.get(link)
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert "invalid or has expired" in html
        assert 'name="new_password"' not in html

    def test_a_link_dead_by_the_time_it_is_sent_says_so(self, browser: FlaskClient) -> None:
        answer = submit(browser, "/auth/reset", "/auth/forgot", token="x", new_password="n")
        assert answer.status_code == 400
        assert "invalid or has expired" in answer.get_data(as_text=True)

    def test_the_mailed_link_leads_to_the_reset_page(self, browser: FlaskClient) -> None:
        answer = browser.get("/reset_password?token=abc")
        assert (answer.status_code, answer.location) == (302, "/auth/reset?token=abc")


# Password change and sessions listed and ended through the pages: both databases.
@pytest.mark.databases("sqlite", "postgres")
class TestAccount:
    def test_needs_a_login_and_comes_back_after_it(self, browser: FlaskClient) -> None:
        answer = browser.get("/auth/account")
        assert (answer.status_code, answer.location) == (302, "/auth/login?next=/auth/account")

    def test_a_post_only_action_without_a_session_comes_back_to_the_account_page(
        self, browser: FlaskClient
    ) -> None:
        answer = submit(browser, "/auth/account/sessions/revoke-others", "/auth/login", email="x")
        assert (answer.status_code, answer.location) == (302, "/auth/login?next=/auth/account")

    def test_lists_the_sessions_and_revokes_another(
        self, browser: FlaskClient, make_client: MakeClient
    ) -> None:
        sign_up(browser)
        other = browser.application.test_client()
        log_in(other)
        page = browser.get("/auth/account").get_data(as_text=True)
        [number] = re.findall(r"/auth/account/sessions/([A-Za-z0-9_-]+)/revoke", page)
        assert "this device" in page
        revoked = submit(browser, f"/auth/account/sessions/{number}/revoke", "/auth/account")
        assert revoked.status_code == 302
        assert other.get("/profile").status_code == 403
        assert browser.get("/profile").status_code == 200

    def test_log_out_everywhere_else_keeps_this_session(self, browser: FlaskClient) -> None:
        sign_up(browser)
        others = [browser.application.test_client() for _ in range(2)]
        for other in others:
            log_in(other)
        submit(browser, "/auth/account/sessions/revoke-others", "/auth/account")
        assert [o.get("/profile").status_code for o in others] == [403, 403]
        assert browser.get("/profile").status_code == 200

    def test_change_password_needs_the_current_one(self, browser: FlaskClient) -> None:
        sign_up(browser)
        wrong = submit(
            browser, "/auth/account/password", "/auth/account", password="x", new_password="y" * 12
        )
        assert wrong.status_code == 403
        assert 'id="password-error"' in wrong.get_data(as_text=True)
        right = submit(
            browser,
            "/auth/account/password",
            "/auth/account",
            password=PASSWORD,
            new_password="y" * 12,
        )
        assert right.status_code == 302
        assert browser.get("/profile").status_code == 200

    def test_log_out_ends_the_session(self, browser: FlaskClient) -> None:
        sign_up(browser)
        answer = submit(browser, "/auth/logout", "/auth/account")
        assert (answer.status_code, answer.location) == (302, "/auth/login")
        assert browser.get("/profile").status_code == 403


# What Chromium and Firefox send when they open a page.
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


class TestLandingPages:
    def test_auth_leads_to_the_login_page(self, browser: FlaskClient) -> None:
        answer = browser.get("/auth/")
        assert (answer.status_code, answer.location) == (302, "/auth/login")

    def test_auth_leads_to_the_account_page_once_logged_in(self, browser: FlaskClient) -> None:
        sign_up(browser)
        answer = browser.get("/auth/")
        assert (answer.status_code, answer.location) == (302, "/auth/account")

    def test_a_browser_opening_the_root_lands_on_the_login_page(
        self, browser: FlaskClient
    ) -> None:
        answer = browser.get("/", headers=BROWSER_ACCEPT, follow_redirects=True)
        assert (answer.status_code, answer.request.path, answer.mimetype) == (
            200,
            "/auth/login",
            "text/html",
        )
        assert "Accept" in answer.history[0].vary

    def test_a_browser_finishing_the_apis_logout_lands_on_the_login_page(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser)
        answer = browser.delete("/sessions", headers=BROWSER_ACCEPT, follow_redirects=True)
        assert (answer.status_code, answer.request.path) == (200, "/auth/login")
        assert browser.get("/profile").status_code == 403

    def test_without_the_pages_a_browser_gets_the_json(self, make_client: MakeClient) -> None:
        client = make_client(WebSettings(pages_enabled=False))
        answer = client.get("/", headers=BROWSER_ACCEPT)
        assert (answer.status_code, answer.json) == (200, {"message": "Bienvenue"})


class TestOperatorChoices:
    def test_pages_can_be_turned_off(self, make_client: MakeClient) -> None:
        client = make_client(WebSettings(pages_enabled=False))
        assert client.get("/auth/login").status_code == 404
        assert client.get("/").status_code == 200

    def test_templates_can_be_overridden(self, make_client: MakeClient, tmp_path: Path) -> None:
        (tmp_path / "userauth").mkdir()
        (tmp_path / "userauth" / "login.html").write_text("<p>Our own login page</p>")
        client = make_client(WebSettings(templates_dir=str(tmp_path)))
        assert client.get("/auth/login").get_data(as_text=True) == "<p>Our own login page</p>"
        assert "Create an account" in client.get("/auth/signup").get_data(as_text=True)

    def test_the_login_page_shares_the_apis_rate_limit(self, make_client: MakeClient) -> None:
        client = make_client(RateLimitSettings(login="3/minute"))
        statuses = [log_in(client, password="x").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert "too many attempts" in log_in(client).get_data(as_text=True).lower()
