"""OIDC codes and tokens live no longer than the session they were issued from, however the
session ended (OpenID Back-Channel Logout 1.0 2.7: the OP's session and the RP's tokens go
together), whether or not a back-channel sweep ran; and one account's sweep never touches
another's tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.oidc_flow import RegisteredClient, exchange, logged_in_browser, register
from tests.test_oidc import code_for, introspect, refresh, tokens_for, userinfo
from tests.test_oidc_backchannel import Receiver, register_with_backchannel
from tests.test_pages import EMAIL, sign_up
from userauth.audit import NO_CLIENT
from userauth.auth import Auth
from userauth.web import create_app

# About storage (the store's session look-ups): on both databases.

OTHER_EMAIL = "bob@example.com"


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
def rp(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def confidential(auth: Auth) -> RegisteredClient:
    return register(auth)


def reset_factors(auth: Auth, email: str = EMAIL) -> None:
    """An administrator's factor reset: every session of the account ends (a credential
    change, without the sessions module's own logout paths)."""
    user = auth.accounts.find_any(email)
    assert user is not None
    auth.enrolment.reset(user, NO_CLIENT)


class TestTokensDieWithTheirSession:
    def test_after_a_factor_reset_the_refresh_token_is_refused(
        self, auth: Auth, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        reset_factors(auth)
        status, answer = refresh(rp, confidential, body["refresh_token"])
        assert (status, answer["error"]) == (400, "invalid_grant")

    def test_after_a_factor_reset_userinfo_refuses_the_access_token(
        self, auth: Auth, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        assert userinfo(rp, body["access_token"])[0] == 200
        reset_factors(auth)
        status, answer = userinfo(rp, body["access_token"])
        assert (status, answer["error"]) == (401, "invalid_token")

    def test_after_a_factor_reset_introspection_says_inactive(
        self, auth: Auth, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        reset_factors(auth)
        assert introspect(rp, confidential, body["access_token"]) == {"active": False}
        assert introspect(rp, confidential, body["refresh_token"]) == {"active": False}

    def test_a_code_exchanged_after_the_user_logged_out_is_refused(
        self, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        code = code_for(browser, confidential)
        assert browser.delete("/sessions").status_code == 302
        answer = exchange(rp, confidential, code)
        assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_grant")

    def test_a_session_ended_by_a_factor_reset_tells_the_client_by_back_channel(
        self, app: Flask, auth: Auth, browser: FlaskClient
    ) -> None:
        receiver = Receiver()
        try:
            client = register_with_backchannel(auth, receiver.uri)
            tokens_for(browser, app.test_client(), client)
            reset_factors(auth)
            assert receiver.wait_for_token(auth)
        finally:
            receiver.close()


class TestTheAccountPage:
    def test_lists_no_app_whose_tokens_died_with_their_session(
        self, auth: Auth, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        tokens_for(browser, rp, confidential)
        user = auth.accounts.find_any(EMAIL)
        assert user is not None
        assert [app.client_id for app in auth.oidc.apps(user.id)] == [confidential.client_id]
        auth.sessions.end_all(user.id)  # no sweep: the janitor's pruning, for one
        assert auth.oidc.apps(user.id) == []


class TestTheSweepIsPerAccount:
    def test_another_accounts_password_reset_sends_nothing_for_this_accounts_ended_sessions(
        self, app: Flask, auth: Auth, browser: FlaskClient, clock: FakeClock
    ) -> None:
        receiver = Receiver()
        try:
            client = register_with_backchannel(auth, receiver.uri)
            tokens_for(browser, app.test_client(), client)
            # Ann's session expires and the janitor prunes it: no sweep (README: an expired
            # session sends no logout token).
            clock.advance(days=40)
            auth.janitor.run_once()
            sign_up(app.test_client(), OTHER_EMAIL)
            token = auth.get_reset_password_token(OTHER_EMAIL)
            auth.update_password(token, "bob's new long password")
            auth.outbox.join(timeout=2)
            assert receiver.attempts == 0
        finally:
            receiver.close()


class TestLeaving:
    def test_deleting_the_account_deletes_the_providers_codes_tokens_consents_and_subject(
        self, auth: Auth, browser: FlaskClient, rp: FlaskClient, confidential: RegisteredClient
    ) -> None:
        body = tokens_for(browser, rp, confidential)
        code_for(browser, confidential)  # and a code not exchanged yet
        user = auth.accounts.find_any(EMAIL)
        assert user is not None

        assert browser.delete("/account").status_code == 200

        assert introspect(rp, confidential, body["refresh_token"]) == {"active": False}
        with auth.db.engine.connect() as connection:
            for table in ("oidc_codes", "oidc_tokens", "oidc_consents", "oidc_subjects"):
                count = connection.execute(
                    text(f"SELECT COUNT(*) FROM {table} WHERE user_id = :id"),  # noqa: S608
                    {"id": user.id},
                ).scalar_one()
                assert (table, count) == (table, 0)


@pytest.mark.databases("postgres")
class TestALogoutRacingAnExchange:
    """A code exchanged while its session is being deleted (PostgreSQL, READ COMMITTED):
    the exchange waits for the deletion and issues nothing, so no token escapes the
    back-channel sweep that follows the deletion (a review's finding)."""

    def test_the_exchange_waits_for_the_deletion_then_is_refused(
        self,
        browser: FlaskClient,
        rp: FlaskClient,
        confidential: RegisteredClient,
        engine: Engine,
    ) -> None:
        code = code_for(browser, confidential)
        answers: list[TestResponse] = []
        with engine.connect() as logout:
            logout.execute(text("DELETE FROM sessions"))  # not committed yet
            racing = threading.Thread(
                target=lambda: answers.append(exchange(rp, confidential, code))
            )
            racing.start()
            racing.join(timeout=1)
            # Blocked on the session row's lock; without it, the token would be issued now.
            assert racing.is_alive()
            assert not answers
            logout.commit()
        racing.join(timeout=10)

        [answer] = answers
        assert answer.status_code == 400
        assert answer.get_json()["error"] == "invalid_grant"
