"""Rate limits under Redis faults: a hung or stopped Redis costs a request at most the Redis
timeout, and per-account limits stay closed, counted in the process, until Redis is back.

Each test starts a Redis server of its own (loopback, a free port, no persistence) and stops,
hangs or kills only that one; the shared test Redis is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask_limiter import Limiter
from limits.storage import RedisStorage
from werkzeug.test import TestResponse

from tests.conftest import free_port
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.settings import RateLimitSettings
from userauth.web.limits import REDIS_TIMEOUT_SECONDS

EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
KEY_SECRET = "fedcba9876543210" * 4
# What a request may cost beyond the Redis timeout on a busy shared test machine.
SLACK_SECONDS = 0.35
# The per-account limits' first windows (ratelimit_login_failures, ratelimit_reset_account).
LOGIN_FAILURES_PER_MINUTE = 10
RESET_MAILS_PER_HOUR = 5

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="redis-server is not installed"
    ),
    # Latency bounds (each request within the Redis timeout plus SLACK_SECONDS): measured
    # while no other test runs (tests/workers.py).
    pytest.mark.alone,
    # Counted in Redis or in the process, never the database (docs/development.md).
    pytest.mark.databases("sqlite"),
]


class OwnRedis:
    """A redis-server process of this test's own, which it may hang, resume or kill."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        self._process = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no", "--dir", str(folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def hang(self) -> None:
        os.kill(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self._process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self._process.poll() is None:
            self.resume()
            self._process.kill()
            self._process.wait(timeout=10)

    def counter_keys(self) -> list[str]:
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return [key.decode() for key in client.scan_iter("*")]
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    yield server
    server.kill()


def close_counters(service: Service) -> None:
    """Close the limiter's connections to Redis (a killed server leaves them half open)."""
    limiter: Limiter = service.app.extensions["userauth.limiter"]
    storage = limiter.storage
    assert isinstance(storage, RedisStorage)
    storage.storage.close()


@pytest.fixture
def service(make_service: ServiceFactory, own_redis: OwnRedis) -> Iterator[Service]:
    """A development app counting in its own Redis, where bob@example.com has an account."""
    built = make_service(
        "development", RateLimitSettings(redis_url=own_redis.url, key_secret=KEY_SECRET)
    )
    built.auth.register_user(EMAIL, PASSWORD)
    yield built
    close_counters(built)


def address(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"10.1.{n // 250}.{n % 250 + 1}"}


def timed_login(service: Service, n: int, password: str) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = service.client.post(
        "/sessions", data={"email": EMAIL, "password": password}, environ_base=address(n)
    )
    return response, time.monotonic() - started


class TestHungRedis:
    def test_each_limited_request_costs_at_most_the_redis_timeout(
        self, service: Service, own_redis: OwnRedis
    ) -> None:
        assert timed_login(service, 0, PASSWORD)[0].status_code == 200
        own_redis.hang()

        # Spread over 3 s, so the breaker tries the hung Redis again (after 1 s and 2 s).
        timings = []
        for n in range(30):
            timings.append(timed_login(service, n, PASSWORD)[1])
            time.sleep(0.1)

        assert max(timings) < REDIS_TIMEOUT_SECONDS + SLACK_SECONDS

    def test_failed_logins_on_one_account_stay_limited(
        self, service: Service, own_redis: OwnRedis
    ) -> None:
        own_redis.hang()

        statuses = [timed_login(service, n, WRONG_PASSWORD)[0].status_code for n in range(30)]

        assert statuses[:LOGIN_FAILURES_PER_MINUTE] == [401] * LOGIN_FAILURES_PER_MINUTE
        assert set(statuses[LOGIN_FAILURES_PER_MINUTE:]) == {429}


class TestStoppedRedis:
    def test_failed_logins_on_one_account_stay_limited(
        self, service: Service, own_redis: OwnRedis
    ) -> None:
        own_redis.kill()

        answers = [timed_login(service, n, WRONG_PASSWORD) for n in range(30)]

        statuses = [response.status_code for response, _ in answers]
        assert statuses[:LOGIN_FAILURES_PER_MINUTE] == [401] * LOGIN_FAILURES_PER_MINUTE
        assert set(statuses[LOGIN_FAILURES_PER_MINUTE:]) == {429}
        assert max(seconds for _, seconds in answers) < REDIS_TIMEOUT_SECONDS + SLACK_SECONDS

    def test_reset_mails_to_one_account_stay_limited(
        self, make_service: ServiceFactory, own_redis: OwnRedis, mail: MailSink
    ) -> None:
        service = make_service("production", RateLimitSettings(redis_url=own_redis.url))
        service.auth.register_user(EMAIL, PASSWORD)
        own_redis.kill()

        statuses = [
            service.client.post(
                "/reset_password", data={"email": EMAIL}, environ_base=address(n)
            ).status_code
            for n in range(20)
        ]
        service.outbox.join()
        close_counters(service)

        assert statuses[:RESET_MAILS_PER_HOUR] == [200] * RESET_MAILS_PER_HOUR
        assert set(statuses[RESET_MAILS_PER_HOUR:]) == {429}
        assert len(mail.to(EMAIL)) == RESET_MAILS_PER_HOUR


class TestRecovery:
    def test_counting_returns_to_redis_once_it_answers_again(
        self, service: Service, own_redis: OwnRedis
    ) -> None:
        own_redis.hang()
        assert timed_login(service, 1, WRONG_PASSWORD)[0].status_code == 401
        own_redis.resume()
        # The breaker tries Redis again one second after it gave up on it.
        time.sleep(1.2)

        assert timed_login(service, 2, WRONG_PASSWORD)[0].status_code == 401

        assert [key for key in own_redis.counter_keys() if "login-failures" in key]
