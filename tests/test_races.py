"""Guarantees that must hold when requests for one account run at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from tests.conftest import FakeClock
from userauth.auth import Auth
from userauth.errors import InvalidTokenError
from userauth.models import disabled_users_table, sessions_table

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"


class TestResetToken:
    def test_of_concurrent_uses_of_one_token_exactly_one_wins(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        token = auth.get_reset_password_token(EMAIL)
        start = threading.Barrier(8)

        def use(number: int) -> bool:
            start.wait()
            try:
                auth.update_password(token, f"new password {number}")
            except InvalidTokenError:
                return False
            return True

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(use, range(8)))
        assert outcomes.count(True) == 1
        winner = outcomes.index(True)
        assert auth.valid_login(EMAIL, f"new password {winner}")


class TestDeadSessions:
    def test_a_login_removes_the_users_expired_and_idle_sessions(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        auth.register_user(EMAIL, PASSWORD)
        for _ in range(3):
            auth.create_session(EMAIL)
        clock.advance(hours=9)  # past the idle timeout and the absolute lifetime
        auth.create_session(EMAIL)
        with auth.db.engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(sessions_table)).scalar()
        assert rows == 1

    def test_a_login_keeps_the_users_live_sessions(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        first = auth.create_session(EMAIL)
        auth.create_session(EMAIL)
        assert auth.get_user_from_session_id(first) is not None


class TestDisabledAccount:
    def test_a_session_of_a_disabled_account_is_refused(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        user = auth.register_user(EMAIL, PASSWORD)
        session_id = auth.create_session(EMAIL)
        # As if an administrator disabled the account while this session was being made.
        with auth.db.engine.begin() as connection:
            connection.execute(
                insert(disabled_users_table).values(user_id=user.id, disabled_at=datetime.now(UTC))
            )
        assert auth.get_user_from_session_id(session_id) is None
