"""Password reset: tokens that expire, work once, replace each other, and end every session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.conftest import TEST_SECURITY, FakeClock
from tests.storage import clear_forms, everything_stored
from userauth.auth import Auth

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"
OTHER_EMAIL = "alice@example.com"


@pytest.fixture
def registered(auth: Auth) -> None:
    auth.register_user(EMAIL, PASSWORD)
    auth.register_user(OTHER_EMAIL, PASSWORD)


def log_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD) -> None:
    response = client.post("/sessions", data={"email": email, "password": password})
    assert response.status_code == 200


def request_token(client: FlaskClient, email: str = EMAIL) -> str:
    response = client.post("/reset_password", data={"email": email})
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, dict)
    token: str = body["reset_token"]
    return token


def reset(
    client: FlaskClient, token: str, new_password: str = NEW_PASSWORD, email: str = EMAIL
) -> int:
    """PUT /reset_password and return the status."""
    response = client.put(
        "/reset_password",
        data={"email": email, "reset_token": token, "new_password": new_password},
    )
    return response.status_code


@pytest.mark.usefixtures("registered")
class TestGetResetPasswordToken:
    def test_each_request_issues_a_new_token(self, auth: Auth) -> None:
        assert auth.get_reset_password_token(EMAIL) != auth.get_reset_password_token(EMAIL)

    def test_an_unknown_email_raises_value_error(self, auth: Auth) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.get_reset_password_token("nobody@example.com")

    def test_an_unknown_email_is_403(self, client: FlaskClient) -> None:
        response = client.post("/reset_password", data={"email": "nobody@example.com"})

        assert response.status_code == 403


@pytest.mark.usefixtures("registered")
class TestUpdatePassword:
    def test_a_token_sets_the_new_password(self, auth: Auth) -> None:
        token = auth.get_reset_password_token(EMAIL)

        auth.update_password(token, NEW_PASSWORD)

        assert auth.valid_login(EMAIL, NEW_PASSWORD)
        assert not auth.valid_login(EMAIL, PASSWORD)

    def test_a_token_works_once(self, auth: Auth) -> None:
        token = auth.get_reset_password_token(EMAIL)
        auth.update_password(token, NEW_PASSWORD)

        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.update_password(token, "third password")
        assert auth.valid_login(EMAIL, NEW_PASSWORD)

    def test_a_token_still_works_just_before_30_minutes(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        token = auth.get_reset_password_token(EMAIL)
        clock.advance(minutes=29, seconds=59)

        auth.update_password(token, NEW_PASSWORD)

        assert auth.valid_login(EMAIL, NEW_PASSWORD)

    def test_a_token_expires_after_30_minutes(self, auth: Auth, clock: FakeClock) -> None:
        token = auth.get_reset_password_token(EMAIL)
        clock.advance(minutes=30, seconds=1)

        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.update_password(token, NEW_PASSWORD)
        assert auth.valid_login(EMAIL, PASSWORD)

    def test_the_token_lifetime_is_a_setting(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(replace(TEST_SECURITY, reset_token_lifetime=timedelta(minutes=5)))
        token = auth.get_reset_password_token(EMAIL)
        clock.advance(minutes=6)

        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.update_password(token, NEW_PASSWORD)

    def test_a_newer_token_replaces_an_older_one(self, auth: Auth) -> None:
        older = auth.get_reset_password_token(EMAIL)
        newer = auth.get_reset_password_token(EMAIL)

        with pytest.raises(ValueError):  # noqa: PT011 - the contract promises ValueError
            auth.update_password(older, NEW_PASSWORD)
        auth.update_password(newer, NEW_PASSWORD)
        assert auth.valid_login(EMAIL, NEW_PASSWORD)

    def test_a_newer_token_gets_a_fresh_30_minutes(self, auth: Auth, clock: FakeClock) -> None:
        auth.get_reset_password_token(EMAIL)
        clock.advance(minutes=20)
        newer = auth.get_reset_password_token(EMAIL)
        clock.advance(minutes=20)

        auth.update_password(newer, NEW_PASSWORD)

        assert auth.valid_login(EMAIL, NEW_PASSWORD)

    def test_a_token_of_one_user_does_not_change_another(self, auth: Auth) -> None:
        auth.get_reset_password_token(EMAIL)
        theirs = auth.get_reset_password_token(OTHER_EMAIL)

        auth.update_password(theirs, NEW_PASSWORD)

        assert auth.valid_login(EMAIL, PASSWORD)
        assert auth.valid_login(OTHER_EMAIL, NEW_PASSWORD)

    def test_a_reset_ends_every_session_of_the_user(self, auth: Auth) -> None:
        session_ids = [auth.create_session(EMAIL) for _ in range(3)]
        token = auth.get_reset_password_token(EMAIL)

        auth.update_password(token, NEW_PASSWORD)

        assert [auth.get_user_from_session_id(s) for s in session_ids] == [None, None, None]
        assert auth.db.find_user_by(email=EMAIL).session_id is None

    def test_a_reset_leaves_other_users_logged_in(self, auth: Auth) -> None:
        theirs = auth.create_session(OTHER_EMAIL)
        token = auth.get_reset_password_token(EMAIL)

        auth.update_password(token, NEW_PASSWORD)

        assert auth.get_user_from_session_id(theirs) is not None

    def test_a_password_refused_by_the_policy_leaves_the_token_usable(self, auth: Auth) -> None:
        token = auth.get_reset_password_token(EMAIL)

        with pytest.raises(ValueError, match="72 bytes"):
            auth.update_password(token, "x" * 73)
        auth.update_password(token, NEW_PASSWORD)
        assert auth.valid_login(EMAIL, NEW_PASSWORD)


@pytest.mark.usefixtures("registered")
class TestResetPasswordRoute:
    def test_a_reset_ends_every_session_of_the_user(self, app: Flask) -> None:
        laptop, phone, helper = app.test_client(), app.test_client(), app.test_client()
        log_in(laptop)
        log_in(phone)

        assert reset(helper, request_token(helper)) == 200

        assert laptop.get("/profile").status_code == 403
        assert phone.get("/profile").status_code == 403

    def test_a_reset_from_a_logged_in_client_ends_its_own_session_too(
        self, client: FlaskClient
    ) -> None:
        log_in(client)

        assert reset(client, request_token(client)) == 200

        assert client.get("/profile").status_code == 403

    def test_an_expired_token_is_403(self, client: FlaskClient, clock: FakeClock) -> None:
        token = request_token(client)
        clock.advance(minutes=31)

        assert reset(client, token) == 403

    def test_a_spent_token_is_403(self, client: FlaskClient) -> None:
        token = request_token(client)
        assert reset(client, token) == 200

        assert reset(client, token, "third password") == 403

    def test_an_older_token_is_403_once_a_newer_one_is_issued(self, client: FlaskClient) -> None:
        older = request_token(client)
        newer = request_token(client)

        assert reset(client, older) == 403
        assert reset(client, newer) == 200

    def test_a_token_presented_with_another_users_email_is_403(self, client: FlaskClient) -> None:
        token = request_token(client)

        assert reset(client, token, email=OTHER_EMAIL) == 403
        assert reset(client, token) == 200

    def test_an_over_long_new_password_is_400_and_the_token_stays_usable(
        self, client: FlaskClient
    ) -> None:
        token = request_token(client)

        assert reset(client, token, "x" * 73) == 400
        assert reset(client, token) == 200


@pytest.mark.usefixtures("registered")
class TestResetTokensAtRest:
    def test_no_table_holds_a_clear_reset_token(
        self, auth: Auth, client: FlaskClient, engine: Engine
    ) -> None:
        pending = [request_token(client), auth.get_reset_password_token(OTHER_EMAIL)]
        spent = request_token(client, OTHER_EMAIL)
        assert reset(client, spent, email=OTHER_EMAIL) == 200
        # A replaced token and a pending one, for the same user.
        pending.append(request_token(client))

        stored = everything_stored(engine, expected_table="one_time_secrets")

        for token in [*pending, spent]:
            for form in clear_forms(token):
                assert form not in stored
        # The clear tokens are stored somehow: the newest pending one still works.
        auth.update_password(pending[-1], NEW_PASSWORD)
