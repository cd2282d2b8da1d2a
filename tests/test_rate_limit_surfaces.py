"""Rate limits count once whichever door is used: the JSON API and the hosted pages share each
bucket, so a budget spent through one is spent for the other."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from tests.doors import Doors, address
from tests.smtp import Service, ServiceFactory
from tests.test_rate_limits import redis_storage
from userauth.settings import RateLimitSettings

EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
NEW_PASSWORD = "amber-lantern-quiet-17"
# README: the cookie a login leaves the device (userauth/web/devices.py).
DEVICE_COOKIE = "userauth_device"
# Every limit under test is set this low, so a few requests exhaust it.
LIMIT = 3
# The one address of the per-address cases; per-account cases move from address to address.
ONE_ADDRESS = 7


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[RateLimitSettings]:
    """Settings for the limiter's storage: in memory (the default), or Redis."""
    if request.param == "memory":
        yield RateLimitSettings()
        return
    with redis_storage() as settings:
        yield settings


def api(doors: Doors, method: str, path: str, n: int, **form: str) -> int:
    return doors.api(method, path, address(n), **form).status_code


def page(doors: Doors, path: str, n: int, **form: str) -> int:
    return doors.page(path, address(n), **form).status_code


Attempt = Callable[[Doors, int], int]


@dataclass(frozen=True)
class Limit:
    """A limit of the README's table, with one attempt that counts against it per door."""

    limits: Callable[[RateLimitSettings], RateLimitSettings]  # sets this limit to LIMIT
    through_api: Attempt
    through_page: Attempt
    environment: str = "development"
    logged_in: bool = False


def other_account(n: int) -> str:
    return f"user{n}@example.com"


LIMITS = {
    "login-per-address": Limit(
        lambda r: replace(r, login=f"{LIMIT}/minute"),
        lambda d, n: api(
            d, "POST", "/sessions", ONE_ADDRESS, email=other_account(n), password=WRONG_PASSWORD
        ),
        lambda d, n: page(
            d, "/auth/login", ONE_ADDRESS, email=other_account(n), password=WRONG_PASSWORD
        ),
    ),
    "failed-logins-per-account": Limit(
        lambda r: replace(r, login_failures=f"{LIMIT}/minute"),
        lambda d, n: api(d, "POST", "/sessions", n, email=EMAIL, password=WRONG_PASSWORD),
        lambda d, n: page(d, "/auth/login", n, email=EMAIL, password=WRONG_PASSWORD),
    ),
    "sign-ups-per-address": Limit(
        lambda r: replace(r, register=f"{LIMIT}/minute"),
        lambda d, n: api(
            d, "POST", "/users", ONE_ADDRESS, email=other_account(n), password=PASSWORD
        ),
        lambda d, n: page(
            d, "/auth/signup", ONE_ADDRESS, email=other_account(n), password=PASSWORD
        ),
    ),
    "reset-requests-per-address": Limit(
        lambda r: replace(r, reset=f"{LIMIT}/minute"),
        lambda d, n: api(d, "POST", "/reset_password", ONE_ADDRESS, email=other_account(n)),
        lambda d, n: page(d, "/auth/forgot", ONE_ADDRESS, email=other_account(n)),
    ),
    "reset-attempts-per-address": Limit(
        lambda r: replace(r, reset=f"{LIMIT}/minute"),
        lambda d, n: api(
            d,
            "PUT",
            "/reset_password",
            ONE_ADDRESS,
            email=EMAIL,
            reset_token=f"not-a-token-{n}",
            new_password=NEW_PASSWORD,
        ),
        lambda d, n: page(
            d, "/auth/reset", ONE_ADDRESS, token=f"not-a-token-{n}", new_password=NEW_PASSWORD
        ),
    ),
    "reset-mails-per-account": Limit(
        lambda r: replace(r, reset_account=f"{LIMIT}/hour"),
        lambda d, n: api(d, "POST", "/reset_password", n, email=EMAIL),
        lambda d, n: page(d, "/auth/forgot", n, email=EMAIL),
    ),
    # Production answers a taken email like a new one, and mails its owner a notice.
    "sign-up-mails-per-account": Limit(
        lambda r: replace(r, reset_account=f"{LIMIT}/hour"),
        lambda d, n: api(d, "POST", "/users", n, email=EMAIL, password=PASSWORD),
        lambda d, n: page(d, "/auth/signup", n, email=EMAIL, password=PASSWORD),
        environment="production",
    ),
    "password-changes-per-session": Limit(
        lambda r: replace(r, login_failures=f"{LIMIT}/minute"),
        lambda d, n: api(
            d, "PUT", "/profile/password", n, password=WRONG_PASSWORD, new_password=NEW_PASSWORD
        ),
        lambda d, n: page(
            d, "/auth/account/password", n, password=WRONG_PASSWORD, new_password=NEW_PASSWORD
        ),
        logged_in=True,
    ),
}
DOOR_ORDERS = {"api-then-page": ("api", "page"), "page-then-api": ("page", "api")}


def through(limit: Limit, door: str) -> Attempt:
    return limit.through_api if door == "api" else limit.through_page


def doors_of(service: Service, limit: Limit) -> Doors:
    service.auth.register_user(EMAIL, PASSWORD)
    doors = Doors(service.client)
    if limit.logged_in:
        assert api(doors, "POST", "/sessions", 0, email=EMAIL, password=PASSWORD) == 200
    return doors


class TestOneBucketPerLimit:
    @pytest.mark.parametrize("order", DOOR_ORDERS.values(), ids=DOOR_ORDERS.keys())
    @pytest.mark.parametrize("name", LIMITS.keys())
    def test_a_limit_spent_through_one_door_refuses_the_other(
        self,
        make_service: ServiceFactory,
        storage: RateLimitSettings,
        name: str,
        order: tuple[str, str],
    ) -> None:
        limit = LIMITS[name]
        doors = doors_of(make_service(limit.environment, limit.limits(storage)), limit)
        first, second = (through(limit, door) for door in order)

        spent = [first(doors, n) for n in range(1, LIMIT + 1)]
        after = second(doors, LIMIT + 1)

        assert 429 not in spent
        assert after == 429

    @pytest.mark.parametrize("order", DOOR_ORDERS.values(), ids=DOOR_ORDERS.keys())
    def test_a_right_password_through_one_door_clears_the_failures_counted_through_the_other(
        self, make_service: ServiceFactory, storage: RateLimitSettings, order: tuple[str, str]
    ) -> None:
        limit = LIMITS["failed-logins-per-account"]
        doors = doors_of(make_service(limit.environment, limit.limits(storage)), limit)
        first, second = order
        failing = through(limit, first)
        spent = [failing(doors, n) for n in range(1, LIMIT)]

        if second == "api":
            right = api(doors, "POST", "/sessions", LIMIT, email=EMAIL, password=PASSWORD)
        else:
            right = page(doors, "/auth/login", LIMIT, email=EMAIL, password=PASSWORD)
        # A stranger (no device cookie from that login) fails again through the first door.
        doors.client.delete_cookie(DEVICE_COOKIE)
        later = [failing(doors, n) for n in range(10, 10 + LIMIT)]

        assert 429 not in spent
        assert right in (200, 302)
        assert 429 not in later
