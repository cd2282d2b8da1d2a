"""Rate limits: guessing runs and spam get 429, per address and per account, in memory and in
Redis, while the contract's scenario and normal use never meet a limit."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import pytest
import redis
from werkzeug.test import TestResponse

from tests.conftest import redis_key_prefix
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.settings import RateLimitSettings

EMAIL = "bob@example.com"
# Passes production's policy, so every test runs in both environments.
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
NEW_PASSWORD = "amber-lantern-quiet-17"
PROBE = 50
# "Well before the 50th": a probe may test at most this many guesses before it is stopped.
MAX_ATTEMPTS_LET_THROUGH = 20

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

ENVIRONMENTS = pytest.mark.parametrize("environment", ["development", "production"])


def address(n: int) -> dict[str, str]:
    """The WSGI environ of a client at its own address (10.0.x.y)."""
    return {"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"}


def statuses_until_limited(responses: Iterator[TestResponse]) -> list[int]:
    """Return the status of each response, stopping after the first 429."""
    statuses = []
    for response in responses:
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    return statuses


# Servers that share a Redis share the key of its counters' keys (as production requires).
KEY_SECRET = "0123456789abcdef" * 4


@contextmanager
def redis_storage() -> Iterator[RateLimitSettings]:
    """Limiter settings for the test Redis, under a key prefix of this test's own."""
    with redis_key_prefix() as (url, prefix):
        yield RateLimitSettings(redis_url=url, key_prefix=prefix, key_secret=KEY_SECRET)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[RateLimitSettings]:
    """Settings for the limiter's storage: in memory (the default), or Redis."""
    if request.param == "memory":
        yield RateLimitSettings()
        return
    with redis_storage() as settings:
        yield settings


@pytest.fixture
def make_service(make_service: ServiceFactory, storage: RateLimitSettings) -> ServiceFactory:
    """conftest's factory, set up after the limiter storage (torn down before it)."""
    return make_service


@pytest.fixture
def service_dev(make_service: ServiceFactory, storage: RateLimitSettings) -> Service:
    """A development app with default limits, where bob@example.com has an account."""
    built = make_service("development", storage)
    built.auth.register_user(EMAIL, PASSWORD)
    return built


@pytest.fixture
def service(environment: str, make_service: ServiceFactory, storage: RateLimitSettings) -> Service:
    """An app with default limits, where bob@example.com has an account."""
    built = make_service(environment, storage)
    built.auth.register_user(EMAIL, PASSWORD)
    return built


def log_in(service: Service, n: int, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
    return service.client.post(
        "/sessions", data={"email": email, "password": password}, environ_base=address(n)
    )


def request_reset(service: Service, n: int, email: str = EMAIL) -> TestResponse:
    return service.client.post("/reset_password", data={"email": email}, environ_base=address(n))


def register(service: Service, n: int, email: str) -> TestResponse:
    return service.client.post(
        "/users", data={"email": email, "password": PASSWORD}, environ_base=address(n)
    )


@ENVIRONMENTS
class TestLoginLimits:
    def test_a_guessing_run_on_one_account_from_fifty_addresses_is_stopped_early(
        self, service: Service
    ) -> None:
        statuses = statuses_until_limited(
            log_in(service, n, password=f"{WRONG_PASSWORD}-{n}") for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH
        assert set(statuses[:-1]) == {401}

    def test_spelling_the_email_differently_does_not_escape_the_account_limit(
        self, service: Service
    ) -> None:
        spellings = ["bob@example.com", "BOB@EXAMPLE.COM", " Bob@Example.com ", "bob@EXAMPLE.com"]

        statuses = statuses_until_limited(
            log_in(service, n, spellings[n % 4], WRONG_PASSWORD) for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH

    def test_a_limited_account_stays_limited_for_every_address(self, service: Service) -> None:
        statuses_until_limited(log_in(service, n, password=WRONG_PASSWORD) for n in range(PROBE))

        later = [log_in(service, n, password=WRONG_PASSWORD).status_code for n in range(60, 70)]

        assert later == [429] * 10

    def test_failures_on_one_account_leave_other_accounts_alone(self, service: Service) -> None:
        service.auth.register_user("alice@example.com", PASSWORD)
        statuses_until_limited(log_in(service, n, password=WRONG_PASSWORD) for n in range(PROBE))

        assert log_in(service, 99, "alice@example.com").status_code == 200

    def test_successful_logins_do_not_count_as_failures(self, service: Service) -> None:
        statuses = [log_in(service, n).status_code for n in range(15)]

        assert statuses == [200] * 15

    def test_a_forged_forwarded_for_header_does_not_change_the_address(
        self, service: Service
    ) -> None:
        statuses = statuses_until_limited(
            service.client.post(
                "/sessions",
                data={"email": f"user{n}@example.com", "password": WRONG_PASSWORD},
                environ_base=address(7),
                headers={"X-Forwarded-For": address(n)["REMOTE_ADDR"]},
            )
            for n in range(PROBE)
        )

        assert statuses[-1] == 429

    def test_login_attempts_from_one_address_are_limited(self, service: Service) -> None:
        # A different account each time: only the per-address limit can stop this run.
        statuses = statuses_until_limited(
            log_in(service, 7, f"user{n}@example.com", WRONG_PASSWORD) for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH + 5
        assert log_in(service, 8).status_code == 200


@ENVIRONMENTS
class TestChangePasswordLimits:
    def test_guessing_the_current_password_through_a_session_is_stopped_early(
        self, service: Service
    ) -> None:
        # A stolen session must not become a way around the failed-login limit.
        assert log_in(service, 1).status_code == 200

        statuses = statuses_until_limited(
            service.client.put(
                "/profile/password",
                data={"password": f"{WRONG_PASSWORD}-{n}", "new_password": NEW_PASSWORD},
                environ_base=address(1),
            )
            for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH


@ENVIRONMENTS
class TestRegistrationLimits:
    def test_registrations_from_one_address_are_limited(self, service: Service) -> None:
        statuses = statuses_until_limited(
            register(service, 7, f"user{n}@example.com") for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert set(statuses[:-1]) == {200}
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH
        assert register(service, 8, "alice@example.com").status_code == 200


@ENVIRONMENTS
class TestResetRequestLimits:
    def test_reset_requests_from_one_address_are_limited(self, service: Service) -> None:
        statuses = statuses_until_limited(
            request_reset(service, 7, f"user{n}@example.com") for n in range(PROBE)
        )

        assert statuses[-1] == 429
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH
        assert request_reset(service, 8).status_code == 200

    def test_reset_requests_for_one_account_are_limited_whatever_the_address(
        self, service: Service, mail: MailSink
    ) -> None:
        statuses = statuses_until_limited(request_reset(service, n) for n in range(PROBE))
        service.outbox.join()

        assert statuses[-1] == 429
        assert set(statuses[:-1]) == {200}
        assert len(statuses) <= MAX_ATTEMPTS_LET_THROUGH
        # Nobody can flood the owner's inbox: one email per accepted request, no more.
        expected_mail = len(statuses) - 1 if service.auth.settings.is_production else 0
        assert len(mail.to(EMAIL)) == expected_mail

    def test_an_account_limit_leaves_other_accounts_alone(self, service: Service) -> None:
        service.auth.register_user("alice@example.com", PASSWORD)
        statuses_until_limited(request_reset(service, n) for n in range(PROBE))

        assert request_reset(service, 99, "alice@example.com").status_code == 200


@ENVIRONMENTS
class TestTooManyRequestsAnswer:
    def test_it_is_429_with_a_json_message_and_retry_after(self, service: Service) -> None:
        statuses_until_limited(log_in(service, n, password=WRONG_PASSWORD) for n in range(PROBE))

        response = log_in(service, 99, password=WRONG_PASSWORD)

        assert response.status_code == 429
        assert response.is_json
        body = response.get_json()
        assert isinstance(body, dict)
        assert list(body) == ["message"]
        assert body["message"]
        retry_after = response.headers.get("Retry-After", "")
        assert retry_after.isdigit()
        assert 0 < int(retry_after) <= 3600

    def test_it_does_not_check_the_password(self, service: Service) -> None:
        statuses_until_limited(log_in(service, n, password=WRONG_PASSWORD) for n in range(PROBE))

        response = log_in(service, 99)

        assert response.status_code == 429
        assert "session_id" not in response.headers.get("Set-Cookie", "")


class TestReservedAttempts:
    @pytest.mark.parametrize("door", ["api", "page"])
    def test_a_hundred_parallel_wrong_passwords_cost_at_most_the_limits_number_of_checks(
        self, make_service: ServiceFactory, storage: RateLimitSettings, door: str
    ) -> None:
        # Production's bcrypt cost keeps each check long enough for the requests to overlap.
        service = make_service("production", storage)
        user = service.auth.register_user(EMAIL, PASSWORD)

        def guess(n: int) -> int:
            client = service.app.test_client()
            form = {"email": EMAIL, "password": f"{WRONG_PASSWORD}-{n}"}
            if door == "api":
                return client.post("/sessions", data=form, environ_base=address(n)).status_code
            found = CSRF.search(client.get("/auth/login").get_data(as_text=True))
            assert found is not None
            form["csrf_token"] = found.group(1)
            return client.post("/auth/login", data=form, environ_base=address(n)).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(guess, range(100)))

        # Each wrong password that reached bcrypt left one login_failed row; a 429 left none.
        events = service.auth.db.list_audit_events(user_id=user.id, limit=1000)
        checks = sum(event.event == "login_failed" for event in events)
        limit = 10  # ratelimit_login_failures: 10/minute
        assert checks == statuses.count(401)
        assert 0 < checks <= limit
        assert statuses.count(429) == 100 - checks

    def test_a_right_password_clears_the_accounts_failures(self, service_dev: Service) -> None:
        for n in range(9):
            assert log_in(service_dev, n, password=WRONG_PASSWORD).status_code == 401
        assert log_in(service_dev, 9).status_code == 200
        # Later failures from a client without this login's device cookie count per account.
        service_dev.client.delete_cookie("userauth_device")

        later = [log_in(service_dev, n, password=WRONG_PASSWORD).status_code for n in range(9)]

        assert later == [401] * 9


@pytest.mark.redis
class TestCounterKeys:
    @pytest.fixture
    def storage(self) -> Iterator[RateLimitSettings]:
        with redis_storage() as settings:
            yield settings

    @ENVIRONMENTS
    def test_no_redis_key_holds_the_email(
        self, environment: str, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        service = make_service(environment, storage)
        service.auth.register_user(EMAIL, PASSWORD)

        log_in(service, 1, password=WRONG_PASSWORD)
        request_reset(service, 2)
        register(service, 3, "carol@example.com")
        service.outbox.join()

        server = redis.Redis.from_url(str(storage.redis_url))
        keys = [key.decode() for key in server.scan_iter(f"*{storage.key_prefix}*")]
        server.close()
        assert len([key for key in keys if "account:" in key]) >= 3
        assert not [key for key in keys if "bob" in key.lower() or "carol" in key.lower()]
        assert not [key for key in keys if "example.com" in key.lower()]


@ENVIRONMENTS
class TestLimitHeaders:
    def test_a_success_carries_no_retry_after(self, service: Service) -> None:
        answers = [
            log_in(service, 1),
            register(service, 2, "carol@example.com"),
            request_reset(service, 3),
        ]

        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert [answer.headers.get("Retry-After") for answer in answers] == [None] * 3

    def test_a_body_too_large_is_413_and_logs_no_rate_limit_error(
        self, service: Service, caplog: pytest.LogCaptureFixture
    ) -> None:
        big = {"email": EMAIL, "password": "x" * (70 * 1024)}
        with caplog.at_level(logging.INFO):
            answers = [
                service.client.post(path, data=big, environ_base=address(1))
                for path in ("/sessions", "/users", "/reset_password")
            ]

        assert [answer.status_code for answer in answers] == [413] * 3
        limiter_records = [r for r in caplog.records if r.name.startswith("flask-limiter")]
        assert [r.getMessage() for r in limiter_records if r.levelno >= logging.WARNING] == []
        # The limits still count in their storage afterwards.
        assert log_in(service, 1).status_code == 200

    def test_an_email_that_is_not_unicode_text_does_not_knock_the_limits_off_their_storage(
        self, service: Service, caplog: pytest.LogCaptureFixture
    ) -> None:
        # A lone surrogate (JSON allows "\ud800") has no UTF-8 form: a key that failed to
        # encode it made Flask-Limiter count in memory alone for a while (1 to 32 s).
        body = '{"email": "\\ud800@example.com", "password": "x"}'
        with caplog.at_level(logging.INFO):
            answers = [
                service.client.post(
                    path, data=body, content_type="application/json", environ_base=address(1)
                )
                for path in ("/sessions", "/users", "/reset_password")
            ]

        assert [answer.status_code for answer in answers] == [400] * 3
        limiter_records = [r for r in caplog.records if r.name.startswith("flask-limiter")]
        assert [r.getMessage() for r in limiter_records if r.levelno >= logging.WARNING] == []


class TestNormalUse:
    def test_the_contract_scenario_three_times_over_never_meets_a_limit(
        self, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        client = make_service("development", storage).client
        for n in range(3):
            email = f"guillaume{n}@holberton.io"
            form = {"email": email, "password": "b4l0u"}
            # Wrong at step 2, the new password from step 8 on.
            other = {"email": email, "password": "t4rt1fl3tt3"}

            assert client.post("/users", data=form).status_code == 200
            assert client.post("/sessions", data=other).status_code == 401
            client.delete_cookie("session_id")
            assert client.get("/profile").status_code == 403
            assert client.post("/sessions", data=form).status_code == 200
            assert client.get("/profile").get_json() == {"email": email}
            assert client.delete("/sessions", follow_redirects=True).status_code == 200
            reset = client.post("/reset_password", data={"email": email})
            assert reset.status_code == 200
            token = reset.get_json()["reset_token"]
            changed = client.put(
                "/reset_password",
                data={"email": email, "reset_token": token, "new_password": "t4rt1fl3tt3"},
            )
            assert changed.status_code == 200
            assert client.post("/sessions", data=other).status_code == 200

    def test_a_user_who_mistypes_a_few_times_still_logs_in(
        self, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        service = make_service("production", storage)
        service.auth.register_user(EMAIL, PASSWORD)

        mistakes = [log_in(service, 1, password=WRONG_PASSWORD).status_code for _ in range(5)]

        assert mistakes == [401] * 5
        assert log_in(service, 1).status_code == 200


@pytest.mark.redis
class TestSharedRedis:
    @pytest.fixture
    def storage(self) -> Iterator[RateLimitSettings]:
        """Redis only: what is tested is counting across apps."""
        with redis_storage() as settings:
            yield settings

    @ENVIRONMENTS
    def test_two_apps_count_one_accounts_failures_together(
        self, environment: str, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        first = make_service(environment, replace(storage, login_failures="3/minute"))
        second = make_service(environment, replace(storage, login_failures="3/minute"))
        first.auth.register_user(EMAIL, PASSWORD)
        apps = [first, second, first, second]

        statuses = [
            log_in(app, n, password=WRONG_PASSWORD).status_code for n, app in enumerate(apps)
        ]

        # Each app saw at most two failures: only a shared count stops the fourth.
        assert statuses == [401, 401, 401, 429]

    def test_the_counts_live_in_redis_under_the_key_prefix(
        self, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        service = make_service("development", storage)

        log_in(service, 1, password=WRONG_PASSWORD)

        server = redis.Redis.from_url(str(storage.redis_url))
        keys = list(server.scan_iter(f"*{storage.key_prefix}*"))
        server.close()
        assert keys
