"""Findings of the hostile review, each specified by the behaviour that closes it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from tests.conftest import TEST_SECURITY, FakeClock
from userauth.auth import Auth
from userauth.settings import (
    CookieSettings,
    DatabaseSettings,
    MailSettings,
    Settings,
    SettingsError,
)
from userauth.web import create_app

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"


class TestShortIdleTimeout:
    def test_a_session_used_more_often_than_its_idle_timeout_stays_live(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_idle_timeout=timedelta(minutes=1)))
        auth.register_user(EMAIL, PASSWORD)
        session_id = auth.create_session(EMAIL)
        for _ in range(6):  # used every 25 s for 150 s
            clock.advance(seconds=25)
            assert auth.get_user_from_session_id(session_id) is not None

    def test_it_still_ends_after_the_idle_timeout_without_use(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, session_idle_timeout=timedelta(minutes=1)))
        auth.register_user(EMAIL, PASSWORD)
        session_id = auth.create_session(EMAIL)
        clock.advance(seconds=61)
        assert auth.get_user_from_session_id(session_id) is None


class TestChunkedBodies:
    def test_a_chunked_body_is_read_no_further_than_the_limit(self, client: FlaskClient) -> None:
        # Without a Content-Length the size is unknown until read: Werkzeug stops reading
        # at MAX_CONTENT_LENGTH, so the padding past it never reaches memory.
        body = b"padding=" + b"x" * 200_000 + b"&email=bob%40example.com&password=b4l0u"
        response = client.post(
            "/users",
            input_stream=io.BytesIO(body),
            content_type="application/x-www-form-urlencoded",
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        assert response.status_code == 400
        assert response.get_json() == {"message": "email is required"}


class TestProductionResetLink:
    @pytest.mark.parametrize(
        "link",
        [
            MailSettings.reset_link_template,
            "http://app.example.com/reset?token={token}",
        ],
        ids=["default-localhost", "plain-http"],
    )
    def test_production_refuses_a_reset_link_nobody_can_use_safely(self, link: str) -> None:
        settings = Settings(
            env="production",
            database=DatabaseSettings(url="sqlite://"),
            cookies=CookieSettings(secure=True),
            mail=MailSettings(smtp_host="127.0.0.1", reset_link_template=link),
        )
        with pytest.raises(SettingsError, match="USERAUTH_RESET_LINK"):
            create_app(settings)
