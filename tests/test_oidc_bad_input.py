"""Malformed input to the OpenID Connect endpoints gets the RFC 6749 error it deserves, never
a 500: a Basic client credential that is not UTF-8, a max_age that is not a small number."""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from tests.oidc_flow import REDIRECT, RegisteredClient, authorize, logged_in_browser, register
from userauth.auth import Auth
from userauth.web import create_app

pytestmark = pytest.mark.databases("sqlite")

ENDPOINTS = ("/oauth2/token", "/oauth2/revoke", "/oauth2/introspect")


@pytest.fixture
def auth(make_auth: Callable[..., Auth]) -> Auth:
    return make_auth()


@pytest.fixture
def app(auth: Auth) -> Flask:
    return create_app(auth.settings, auth)


@pytest.fixture
def confidential(auth: Auth) -> RegisteredClient:
    return register(auth)


class TestBasicCredentialsThatAreNotUtf8:
    @pytest.mark.parametrize("endpoint", ENDPOINTS)
    @pytest.mark.parametrize(
        "credentials",
        [base64.b64encode(b"\xff:x").decode("ascii"), "\u00e9\u00e9\u00e9\u00e9"],
        ids=["not-utf8", "not-base64-ascii"],
    )
    def test_are_an_invalid_client(self, app: Flask, endpoint: str, credentials: str) -> None:
        answer = app.test_client().post(
            endpoint,
            data={"grant_type": "refresh_token", "refresh_token": "x", "token": "x"},
            headers={"Authorization": "Basic " + credentials},
        )
        assert answer.status_code == 401
        assert answer.get_json()["error"] == "invalid_client"


class TestMaxAgeThatIsNotASmallNumber:
    @pytest.mark.parametrize("max_age", ["\u00b2", "9" * 5000, "-1", "1.5", "", "12345678901"])
    def test_is_an_invalid_request_sent_back_to_the_client(
        self, app: Flask, confidential: RegisteredClient, max_age: str
    ) -> None:
        browser = logged_in_browser(app.test_client())
        answer = authorize(browser, confidential, max_age=max_age)
        assert answer.status_code == 302
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT + "?")
        params = parse_qs(urlsplit(location).query)
        assert params["error"] == ["invalid_request"]
        assert params["state"] == ["the-state"]

    def test_ten_digits_are_a_max_age(self, app: Flask, confidential: RegisteredClient) -> None:
        browser = logged_in_browser(app.test_client())
        answer = authorize(browser, confidential, max_age="9999999999")
        assert "code" in parse_qs(urlsplit(answer.headers["Location"]).query)

    def test_it_is_checked_before_the_login(
        self, app: Flask, confidential: RegisteredClient
    ) -> None:
        answer = authorize(app.test_client(), confidential, max_age="\u00b2")
        assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["invalid_request"]
