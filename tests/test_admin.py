"""Administration (userauth.admin) applies the domain's rules, not copies of them."""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.errors import UnknownEmailError

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"


class TestOneLivenessRule:
    def test_the_api_the_admin_and_the_metrics_count_the_same_live_sessions(
        self, auth: Auth, clock: FakeClock
    ) -> None:
        auth.register_user(EMAIL, PASSWORD)
        idle = auth.create_session(EMAIL)
        clock.advance(minutes=20)
        used = auth.create_session(EMAIL)
        clock.advance(minutes=15)  # the first is now idle for 35 minutes, the second for 15
        live = auth.require_session(used)

        assert auth.get_user_from_session_id(idle) is None
        assert len(auth.list_sessions(live)) == 1
        assert Admin(auth).show_user(EMAIL).live_sessions == 1
        assert auth.sessions.count_live() == 1


class TestEmailLookUp:
    @pytest.mark.parametrize(
        "email", ["bob\x00@example.com", "", "  "], ids=["nul", "empty", "blank"]
    )
    def test_an_email_no_account_can_have_is_unknown(self, auth: Auth, email: str) -> None:
        auth.register_user(EMAIL, PASSWORD)
        with pytest.raises(UnknownEmailError):
            Admin(auth).show_user(email)

    def test_a_disabled_account_is_found_by_the_admin_only(self, auth: Auth) -> None:
        auth.register_user(EMAIL, PASSWORD)
        Admin(auth).disable_user(EMAIL)
        assert auth.accounts.find(EMAIL) is None
        assert Admin(auth).show_user(EMAIL).email == EMAIL
