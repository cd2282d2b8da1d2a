"""Scale-out: two `userauth serve` processes sharing one PostgreSQL database and one Redis.

Covers issue 5 item 6: a session made through one server is valid on the other, a logout on
one ends it on both, and login rate limits are counted across both. PostgreSQL and Redis only:
the point is what the servers share, so these tests skip locally without them and fail under
CI=true.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.conftest import ServerProcess, redis_key_prefix
from tests.test_server_process import (
    EMAIL,
    NEW_PASSWD,
    PASSWD,
    TIMEOUT,
    log_in,
    log_out,
    profile_logged,
    register_user,
)

SERVE = [sys.executable, "-m", "userauth", "serve", "--workers", "2"]
TOO_MANY = {"message": "too many attempts; try again later"}

# The one PostgreSQL database both servers use (never SQLite: nothing shares it).
pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.databases("postgres")]

Pair = tuple[ServerProcess, ServerProcess]


@pytest.fixture
def shared_redis() -> Iterator[dict[str, str]]:
    """Point the servers at the test Redis, under a key prefix no other test uses."""
    with redis_key_prefix() as (url, prefix):
        yield {
            "REDIS_URL": url,
            "USERAUTH_RATELIMIT_KEY_PREFIX": prefix,
            # Both servers must turn an email into the same counter key.
            "USERAUTH_RATELIMIT_KEY_SECRET": "0123456789abcdef" * 4,
        }


@pytest.fixture
def start_pair(
    start_server: Callable[..., ServerProcess], shared_redis: dict[str, str]
) -> Callable[..., Pair]:
    """Start two servers on different ports, same database and Redis; keywords are settings."""

    def start(**env: str) -> Pair:
        first = start_server(SERVE, **shared_redis, **env)
        second = start_server(SERVE, **shared_redis, **env)
        assert first.port != second.port
        return first, second

    return start


def login_status(url: str, password: str) -> tuple[int, object]:
    response = requests.post(
        f"{url}/sessions", data={"email": EMAIL, "password": password}, timeout=TIMEOUT
    )
    return response.status_code, response.json()


def profile_status(url: str, session_id: str) -> int:
    response = requests.get(f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT)
    return response.status_code


class TestSharedSessions:
    def test_a_session_made_on_one_server_is_valid_on_the_other(
        self, start_pair: Callable[..., Pair]
    ) -> None:
        a, b = start_pair()
        register_user(a.url, EMAIL, PASSWD)
        session_id = log_in(a.url, EMAIL, PASSWD)
        profile_logged(b.url, session_id)

    def test_a_logout_on_one_server_ends_the_session_on_both(
        self, start_pair: Callable[..., Pair]
    ) -> None:
        a, b = start_pair()
        register_user(a.url, EMAIL, PASSWD)
        session_id = log_in(a.url, EMAIL, PASSWD)
        log_out(b.url, session_id)
        assert (profile_status(a.url, session_id), profile_status(b.url, session_id)) == (403, 403)


class TestSharedRateLimits:
    def test_failed_logins_of_an_account_are_counted_across_both_servers(
        self, start_pair: Callable[..., Pair]
    ) -> None:
        a, b = start_pair(USERAUTH_RATELIMIT_LOGIN_FAILURES="4/minute")
        register_user(a.url, EMAIL, PASSWD)
        failures = [login_status(server.url, NEW_PASSWD)[0] for server in (a, a, b, b)]
        assert failures == [401] * 4
        assert login_status(a.url, NEW_PASSWD) == (429, TOO_MANY)
        assert login_status(b.url, NEW_PASSWD) == (429, TOO_MANY)

    def test_logins_from_one_address_are_counted_across_both_servers(
        self, start_pair: Callable[..., Pair]
    ) -> None:
        a, b = start_pair(USERAUTH_RATELIMIT_LOGIN="4/minute")
        register_user(a.url, EMAIL, PASSWD)
        logins = [login_status(server.url, PASSWD)[0] for server in (a, a, b, b)]
        assert logins == [200] * 4
        assert login_status(a.url, PASSWD) == (429, TOO_MANY)
        assert login_status(b.url, PASSWD) == (429, TOO_MANY)
