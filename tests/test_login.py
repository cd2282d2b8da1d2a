"""The login operation (Credentials.login): one look-up, one result, and no session made
with a password that a concurrent reset or change has superseded (issue 11, 8a)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from userauth.auth import Auth
from userauth.credentials import LoginOutcome
from userauth.settings import SecuritySettings, ServerSettings

EMAIL = "dee@example.com"
PASSWORD = "old password"
NEW_PASSWORD = "new password"
# bcrypt cost of the stored hash in the race tests: slow enough (about a second) that the
# reset started 0.1 s after the login finishes while the login is still checking it.
SLOW_ROUNDS = 14


class TestLoginResult:
    def test_a_right_password_succeeds_with_a_live_session(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        result = auth.login(EMAIL, PASSWORD)
        assert result.succeeded
        assert result.outcome is LoginOutcome.SUCCEEDED
        user = auth.get_user_from_session_id(result.session_id)
        assert user is not None
        assert user.email == EMAIL

    @pytest.mark.parametrize(
        ("email", "password"),
        [(EMAIL, "wrong password"), ("nobody@example.com", PASSWORD), ("", PASSWORD)],
        ids=["wrong-password", "unknown-email", "empty-email"],
    )
    def test_a_failed_login_has_no_session(self, auth: Auth, email: str, password: str) -> None:
        auth.register_user(EMAIL, PASSWORD)
        result = auth.login(email, password)
        assert not result.succeeded
        assert result.outcome is LoginOutcome.FAILED
        assert result.session_id is None

    def test_the_result_never_shows_the_session_id(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        result = auth.login(EMAIL, PASSWORD)
        assert result.session_id is not None
        assert result.session_id not in repr(result)


class TestSessionsMadeWithASupersededPassword:
    def test_a_session_is_not_started_once_the_checked_hash_is_replaced(self, auth: Auth) -> None:
        user = auth.register_user(EMAIL, PASSWORD)
        # `user` was read before the reset: it holds the credential version then.
        auth.update_password(auth.get_reset_password_token(EMAIL), NEW_PASSWORD)
        assert auth.sessions.start(user) is None

    def test_a_session_is_started_while_the_checked_hash_is_stored(self, auth: Auth) -> None:
        user = auth.register_user(EMAIL, PASSWORD)
        assert auth.sessions.start(user) is not None

    @pytest.mark.parametrize("change", ["reset", "change"])
    def test_a_login_overlapping_a_password_change_leaves_no_session(
        self, make_auth: Callable[..., Auth], change: str
    ) -> None:
        # Two hashing threads: the change hashes its new password while the login checks the
        # old one (with one, the pool would queue the change behind the login: no race).
        threads = ServerSettings(password_hashing_threads=2)
        slow = make_auth(SecuritySettings(bcrypt_rounds=SLOW_ROUNDS), threads)
        fast = make_auth(threads)
        slow.register_user(EMAIL, PASSWORD)
        other_device = fast.login(EMAIL, PASSWORD).session_id
        token = fast.get_reset_password_token(EMAIL)
        results = []
        login = threading.Thread(target=lambda: results.append(fast.login(EMAIL, PASSWORD)))
        login.start()
        time.sleep(0.1)  # the login is checking the old (slow) hash now
        if change == "reset":
            fast.reset_password(EMAIL, token, NEW_PASSWORD)
            assert login.is_alive(), "the login ended before the reset: no race was run"
        else:
            fast.change_password(fast.require_session(other_device), PASSWORD, NEW_PASSWORD)
        login.join()

        # Whichever finished first, no session made with the old password is live.
        [result] = results
        assert fast.get_user_from_session_id(result.session_id) is None
        assert fast.valid_login(EMAIL, NEW_PASSWORD)
