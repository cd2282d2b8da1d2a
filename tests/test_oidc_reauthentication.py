"""prompt=login and an exceeded max_age make the user authenticate again (OpenID Connect Core
3.1.2.1: the OP MUST re-authenticate), then the flow goes on, with the new auth_time."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.oidc_flow import (
    RegisteredClient,
    authorize,
    exchange,
    logged_in_browser,
    redirected_params,
    register,
)
from tests.test_oidc import id_token_claims
from tests.test_pages import CSRF, PASSWORD, log_in, sign_up
from userauth.auth import Auth
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")

ACTION = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


@pytest.fixture
def app(auth: Auth) -> Flask:
    return create_app(auth.settings, auth)


@pytest.fixture
def browser(app: Flask) -> FlaskClient:
    return logged_in_browser(app.test_client())


@pytest.fixture
def confidential(auth: Auth) -> RegisteredClient:
    return register(auth)


def post_form(browser: FlaskClient, page: TestResponse, **fields: str) -> TestResponse:
    """Submit the page's first form as a browser does: to its action, with its CSRF token."""
    text = page.get_data(as_text=True)
    action, token = ACTION.search(text), CSRF.search(text)
    assert action is not None, text
    assert token is not None, text
    return browser.post(
        html.unescape(action.group(1)), data={"csrf_token": token.group(1), **fields}
    )


def auth_time_of(app: Flask, client: RegisteredClient, answer: TestResponse) -> int:
    rp = app.test_client()
    body = exchange(rp, client, redirected_params(answer)["code"]).get_json()
    auth_time = id_token_claims(rp, body["id_token"])["auth_time"]
    assert isinstance(auth_time, int)
    return auth_time


class TestAFreshLoginIsAsked:
    @pytest.mark.parametrize("params", [{"prompt": "login"}, {"max_age": "60"}])
    def test_the_password_again_then_a_code_with_the_new_auth_time(
        self,
        app: Flask,
        browser: FlaskClient,
        confidential: RegisteredClient,
        clock: FakeClock,
        params: dict[str, str],
    ) -> None:
        clock.advance(minutes=10)
        asked = authorize(browser, confidential, **params)
        assert asked.status_code == 401
        assert "reauth_password" in asked.get_data(as_text=True)
        answer = post_form(browser, asked, reauth_password=PASSWORD)
        assert auth_time_of(app, confidential, answer) == int(clock.now.timestamp())

    def test_a_wrong_password_gives_no_code(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        asked = authorize(browser, confidential, prompt="login")
        answer = post_form(browser, asked, reauth_password="not the password")
        assert answer.status_code == 403
        assert "Location" not in answer.headers

    def test_a_recent_enough_login_is_not_asked_again(
        self, browser: FlaskClient, confidential: RegisteredClient, clock: FakeClock
    ) -> None:
        clock.advance(seconds=30)
        assert "code" in redirected_params(authorize(browser, confidential, max_age="60"))

    def test_the_consent_after_it_does_not_ask_again(
        self, app: Flask, auth: Auth, browser: FlaskClient
    ) -> None:
        third_party = register(auth, first_party=False)
        asked = authorize(browser, third_party, prompt="login consent", max_age="0")
        consent = post_form(browser, asked, reauth_password=PASSWORD)
        assert consent.status_code == 200
        assert "consent" in consent.get_data(as_text=True)
        answer = post_form(browser, consent, consent="allow")
        location = urlsplit(answer.headers["Location"])
        assert "code" in parse_qs(location.query)


class TestGuessingThePasswordThere:
    def test_is_limited_per_session(
        self, auth: Auth, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        asked = authorize(browser, confidential, prompt="login")
        for _ in range(10):  # USERAUTH_RATELIMIT_LOGIN_FAILURES: 10/minute by default
            assert post_form(browser, asked, reauth_password="wrong").status_code == 403
        assert post_form(browser, asked, reauth_password="wrong").status_code == 429

    def test_consent_answers_do_not_count(self, auth: Auth, browser: FlaskClient) -> None:
        third_party = register(auth, first_party=False)
        consent = authorize(browser, third_party)
        for _ in range(11):
            assert post_form(browser, consent, consent="deny").status_code == 302

    def test_a_password_posted_without_the_forms_csrf_token_is_refused(
        self, browser: FlaskClient, confidential: RegisteredClient
    ) -> None:
        asked = authorize(browser, confidential, prompt="login")
        text = asked.get_data(as_text=True)
        action = ACTION.search(text)
        assert action is not None
        answer = browser.post(html.unescape(action.group(1)), data={"reauth_password": PASSWORD})
        assert answer.status_code == 400
        assert "Location" not in answer.headers


class TestALoginOnTheWay:
    def test_counts_as_the_fresh_login_and_is_not_asked_again(
        self, app: Flask, confidential: RegisteredClient
    ) -> None:
        sign_up(app.test_client())
        browser = app.test_client()
        to_login = authorize(browser, confidential, prompt="login", max_age="0")
        location = urlsplit(to_login.headers["Location"])
        assert location.path == "/auth/login"
        [after] = parse_qs(location.query)["next"]
        asked_again = parse_qs(urlsplit(after).query)
        assert "prompt" not in asked_again
        assert "max_age" not in asked_again
        log_in(browser)
        assert "code" in redirected_params(browser.get(after))
