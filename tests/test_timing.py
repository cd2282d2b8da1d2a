"""No enumeration by timing: an unknown email costs the same bcrypt work as a wrong password."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.smtp import ServiceFactory
from userauth.auth import Auth
from userauth.settings import RateLimitSettings, SecuritySettings

EMAIL = "bob@example.com"
UNKNOWN_EMAIL = "nobody@example.com"
PASSWORD = "b4l0u"
WRONG_PASSWORD = "t4rt1fl3tt3"
DEFAULT_BCRYPT_ROUNDS = 12
SAMPLES = 30
MAX_RATIO = 1.25

# Ratios of medians: measured while no other test runs (tests/workers.py).
pytestmark = pytest.mark.alone


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: what is measured is bcrypt's work, not the database's."""
    return f"sqlite:///{tmp_path / 'timing.db'}"


def seconds_of(call: Callable[[], bool]) -> float:
    """Time one refused login."""
    start = time.perf_counter()
    accepted = call()
    elapsed = time.perf_counter() - start
    assert not accepted
    return elapsed


@pytest.mark.slow
class TestValidLoginTiming:
    def test_an_unknown_email_costs_as_much_as_a_wrong_password(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(SecuritySettings(bcrypt_rounds=DEFAULT_BCRYPT_ROUNDS))
        auth.register_user(EMAIL, PASSWORD)
        assert auth.db.find_user_by(email=EMAIL).hashed_password.startswith(b"$2b$12$")

        def unknown() -> bool:
            return auth.valid_login(UNKNOWN_EMAIL, PASSWORD)

        def wrong() -> bool:
            return auth.valid_login(EMAIL, WRONG_PASSWORD)

        unknown(), wrong()  # warm-up: first connections, any one-off setup
        unknown_times: list[float] = []
        wrong_times: list[float] = []
        # Interleaved, alternating which goes first, so drift in load hits both kinds alike.
        for sample in range(SAMPLES):
            pair = [(unknown, unknown_times), (wrong, wrong_times)]
            for call, times in pair if sample % 2 == 0 else reversed(pair):
                times.append(seconds_of(call))

        unknown_median = statistics.median(unknown_times)
        wrong_median = statistics.median(wrong_times)
        ratio = max(unknown_median, wrong_median) / min(unknown_median, wrong_median)
        assert ratio <= MAX_RATIO, (
            f"median unknown email {unknown_median * 1000:.1f} ms, "
            f"median wrong password {wrong_median * 1000:.1f} ms, ratio {ratio:.2f}"
        )


@pytest.mark.slow
class TestLoginRouteTiming:
    def test_through_the_rate_limits_an_unknown_email_costs_as_much_as_a_wrong_password(
        self, make_service: ServiceFactory
    ) -> None:
        # Both kinds are counted per account before the password is checked; the limits are
        # raised so that every request reaches bcrypt.
        limits = RateLimitSettings(login="10000/minute", login_failures="10000/minute")
        service = make_service("production", limits)
        strong = "violet-kettle-orbit-42"
        service.auth.register_user(EMAIL, strong)

        def post(email: str) -> float:
            form = {"email": email, "password": strong + "-wrong"}
            start = time.perf_counter()
            status = service.client.post("/sessions", data=form).status_code
            elapsed = time.perf_counter() - start
            assert status == 401
            return elapsed

        post(UNKNOWN_EMAIL), post(EMAIL)  # warm-up
        ratios = []
        for _ in range(3):
            times: dict[str, list[float]] = {EMAIL: [], UNKNOWN_EMAIL: []}
            for sample in range(SAMPLES):
                for email in sorted(times, reverse=bool(sample % 2)):
                    times[email].append(post(email))
            known, unknown = (statistics.median(times[e]) for e in (EMAIL, UNKNOWN_EMAIL))
            ratios.append(max(known, unknown) / min(known, unknown))

        assert min(ratios) <= MAX_RATIO, ", ".join(f"{ratio:.2f}" for ratio in ratios)
