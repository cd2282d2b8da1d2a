"""Device cookies: strangers who spend an account's failed-login budget no longer lock its owner
out; a device that has logged into the account before counts its failures on its own budget
(OWASP "Slow Down Online Guessing Attacks with Device Cookies", NIST SP 800-63B 5.2.2)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
import redis
from flask.testing import FlaskClient

from tests.doors import Doors, address
from tests.smtp import PRODUCTION_SECURITY, Service, ServiceFactory
from tests.test_rate_limits import redis_storage
from userauth.settings import RateLimitSettings, Section, Settings, SettingsError

EMAIL = "bob@example.com"
OTHER_EMAIL = "mallory@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
DEVICE_COOKIE = "userauth_device"
ACCOUNT_FAILURES = 3
DEVICE_FAILURES = 2


def small_budgets(storage: RateLimitSettings) -> RateLimitSettings:
    """The limits of these tests: small failure budgets, counted in `storage`."""
    return replace(
        storage,
        login_failures=f"{ACCOUNT_FAILURES}/minute",
        device_failures=f"{DEVICE_FAILURES}/minute",
    )


OWNER, OTHER_DEVICE = address(200), address(201)
DOORS = pytest.mark.parametrize("door", ["api", "page"])
ENVIRONMENTS = pytest.mark.parametrize("environment", ["development", "production"])

MakeService = Callable[..., Service]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[RateLimitSettings]:
    """Settings for the limiter's storage: in memory (the default), or Redis."""
    if request.param == "memory":
        yield RateLimitSettings()
        return
    with redis_storage() as settings:
        yield settings


@pytest.fixture
def make(make_service: ServiceFactory, storage: RateLimitSettings) -> MakeService:
    """Build an app with small failure budgets where bob (and mallory) have accounts."""

    def build(environment: str = "development", *sections: Section) -> Service:
        service = make_service(environment, small_budgets(storage), *sections)
        for email in (EMAIL, OTHER_EMAIL):
            service.auth.register_user(email, PASSWORD)
        return service

    return build


def log_in(
    doors: Doors,
    door: str,
    environ: dict[str, str],
    password: str = PASSWORD,
    email: str = EMAIL,
) -> int:
    """Log in through the API or the login page; return the status (page success is 302)."""
    if door == "api":
        answer = doors.api("POST", "/sessions", environ, email=email, password=password)
    else:
        answer = doors.page("/auth/login", environ, email=email, password=password)
    return answer.status_code


def success(door: str) -> int:
    return 200 if door == "api" else 302


def device_of_owner(service: Service, door: str = "api", email: str = EMAIL) -> Doors:
    """A browser or API client that has logged in (and out) once: it holds a device cookie."""
    owner = Doors(service.app.test_client())
    assert log_in(owner, door, OWNER, email=email) == success(door)
    owner.client.delete("/sessions")
    return owner


def strangers_spend_the_accounts_budget(service: Service) -> None:
    stranger = Doors(service.app.test_client())
    statuses = [log_in(stranger, "api", address(n), f"{WRONG_PASSWORD}-{n}") for n in range(1, 30)]
    assert statuses[ACCOUNT_FAILURES] == 429


def device_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(DEVICE_COOKIE)
    assert cookie is not None
    return cookie.value


def device_set_cookie(headers: list[str]) -> list[str]:
    return [header for header in headers if header.startswith(f"{DEVICE_COOKIE}=")]


class TestOwnerIsNotLockedOut:
    @ENVIRONMENTS
    @DOORS
    def test_strangers_spend_the_accounts_budget_and_the_owners_device_still_logs_in(
        self, make: MakeService, environment: str, door: str
    ) -> None:
        service = make(environment)
        owner = device_of_owner(service, door)
        strangers_spend_the_accounts_budget(service)

        stranger_with_the_password = log_in(Doors(service.app.test_client()), door, address(99))
        owner_with_the_password = log_in(owner, door, OWNER)

        assert stranger_with_the_password == 429
        assert owner_with_the_password == success(door)
        assert owner.client.get("/profile").status_code == 200

    @pytest.mark.parametrize(
        "planted",
        [
            "junk",
            "~".join(f"{'A' * 22}.{'B' * 43}" for _ in range(5)),
            '"',
        ],
        ids=["junk", "five-well-formed-forgeries", "a-lone-quote"],
    )
    def test_a_planted_copy_of_the_cookie_does_not_hide_the_owners(
        self, make: MakeService, planted: str
    ) -> None:
        # A sibling subdomain can plant `userauth_device=...; Domain=<parent>; Path=/sessions`,
        # which the browser sends first: every copy is read, as the browser sent them.
        service = make()
        owner = device_of_owner(service)
        own = device_cookie(owner.client)
        strangers_spend_the_accounts_budget(service)
        client = service.app.test_client(use_cookies=False)
        tossed = f"{DEVICE_COOKIE}={planted}; {DEVICE_COOKIE}={own}"

        answer = client.post(
            "/sessions",
            headers={"Cookie": tossed},
            data={"email": EMAIL, "password": PASSWORD},
            environ_base=OWNER,
        )

        assert answer.status_code == 200

    @DOORS
    def test_the_owner_may_mistype_while_strangers_are_refused(
        self, make: MakeService, door: str
    ) -> None:
        service = make()
        owner = device_of_owner(service, door)
        strangers_spend_the_accounts_budget(service)

        mistyped = log_in(owner, door, OWNER, WRONG_PASSWORD)

        assert mistyped == 401
        assert log_in(owner, door, OWNER) == success(door)

    def test_a_cookie_from_the_api_counts_on_the_login_page_and_back(
        self, make: MakeService
    ) -> None:
        service = make()
        owner = device_of_owner(service, "api")
        strangers_spend_the_accounts_budget(service)

        assert log_in(owner, "page", OWNER) == 302
        owner.client.delete("/sessions")
        assert log_in(owner, "api", OWNER) == 200

    def test_the_owners_login_gives_strangers_no_fresh_budget(self, make: MakeService) -> None:
        service = make()
        owner = device_of_owner(service)
        strangers_spend_the_accounts_budget(service)

        assert log_in(owner, "api", OWNER) == 200
        stranger = Doors(service.app.test_client())
        assert log_in(stranger, "api", address(98), WRONG_PASSWORD) == 429

    def test_one_device_keeps_cookies_for_several_accounts(self, make: MakeService) -> None:
        service = make()
        shared = device_of_owner(service, email=EMAIL)
        assert log_in(shared, "api", OWNER, email=OTHER_EMAIL) == 200
        shared.client.delete("/sessions")
        strangers_spend_the_accounts_budget(service)

        assert log_in(shared, "api", OWNER, email=EMAIL) == 200


class TestDeviceBudget:
    @DOORS
    def test_a_devices_wrong_passwords_lock_that_device_only(
        self, make: MakeService, door: str
    ) -> None:
        service = make()
        owner = device_of_owner(service, door)
        second_device = device_of_owner(service, door)

        statuses = [log_in(owner, door, OWNER, WRONG_PASSWORD) for _ in range(DEVICE_FAILURES + 1)]

        assert statuses == [401] * DEVICE_FAILURES + [429]
        assert log_in(owner, door, OWNER) == 429
        assert log_in(second_device, door, OTHER_DEVICE) == success(door)
        # The account's own budget was not spent: a stranger still gets a password check.
        stranger = Doors(service.app.test_client())
        assert log_in(stranger, "api", address(97), WRONG_PASSWORD) == 401

    def test_a_right_password_clears_the_devices_failures(self, make: MakeService) -> None:
        service = make()
        owner = device_of_owner(service)
        assert log_in(owner, "api", OWNER, WRONG_PASSWORD) == 401
        assert log_in(owner, "api", OWNER) == 200

        later = [log_in(owner, "api", OWNER, WRONG_PASSWORD) for _ in range(DEVICE_FAILURES)]

        assert later == [401] * DEVICE_FAILURES

    def test_each_login_issues_a_new_cookie(self, make: MakeService) -> None:
        service = make()
        owner = device_of_owner(service)
        first = device_cookie(owner.client)

        assert log_in(owner, "api", OWNER) == 200

        assert device_cookie(owner.client) != first


def tampered(value: str, at: int) -> str:
    replacement = "A" if value[at] != "A" else "B"
    return value[:at] + replacement + value[at + 1 :]


# What a client may present instead of the owner's cookie: (name, value from the owner's).
BAD_COOKIES: dict[str, Callable[[str], str]] = {
    "tampered-nonce": lambda value: tampered(value, 0),
    "tampered-signature": lambda value: tampered(value, len(value) - 2),
    "forged": lambda _value: "A" * 22 + "." + "B" * 43,
    "nonce-alone": lambda value: value.split(".")[0],
    "garbage": lambda _value: "not a device cookie",
    "too-long": lambda value: "~".join([value[:-1] + "B"] * 50),
}


class TestCookiesThatCountAsNone:
    @pytest.mark.parametrize("name", BAD_COOKIES.keys())
    def test_an_altered_or_forged_cookie_counts_against_the_accounts_budget(
        self, make: MakeService, name: str
    ) -> None:
        service = make()
        owners_value = device_cookie(device_of_owner(service).client)
        strangers_spend_the_accounts_budget(service)
        impostor = Doors(service.app.test_client())
        impostor.client.set_cookie(DEVICE_COOKIE, BAD_COOKIES[name](owners_value))

        assert log_in(impostor, "api", address(96)) == 429

    @DOORS
    def test_a_cookie_of_another_account_counts_as_none(
        self, make: MakeService, door: str
    ) -> None:
        service = make()
        # Mallory logs into her own account, then guesses at bob's with her cookie.
        mallory = device_of_owner(service, door, email=OTHER_EMAIL)
        strangers_spend_the_accounts_budget(service)

        assert log_in(mallory, door, address(95)) == 429

    def test_a_cookie_signed_with_another_key_counts_as_none(
        self, make: MakeService, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        # Three servers on one database: two share USERAUTH_SECRET_KEY, one has its own.
        first = make("production", replace(PRODUCTION_SECURITY, secret_key="k" * 32))
        owners_value = device_cookie(device_of_owner(first).client)
        limits = small_budgets(storage)
        same_key = make_service(
            "production", limits, replace(PRODUCTION_SECURITY, secret_key="k" * 32)
        )
        other_key = make_service(
            "production", limits, replace(PRODUCTION_SECURITY, secret_key="o" * 32)
        )
        if storage.redis_url is None:  # each app counts in its own memory
            strangers_spend_the_accounts_budget(same_key)
        strangers_spend_the_accounts_budget(other_key)

        answers = []
        for server in (same_key, other_key):
            client = Doors(server.app.test_client())
            client.client.set_cookie(DEVICE_COOKIE, owners_value)
            answers.append(log_in(client, "api", OWNER))

        assert answers == [200, 429]


class TestTheCookie:
    @ENVIRONMENTS
    @DOORS
    def test_a_login_sets_a_long_lived_httponly_lax_cookie_without_the_email(
        self, make: MakeService, environment: str, door: str
    ) -> None:
        service = make(environment)
        owner = Doors(service.app.test_client())
        if door == "api":
            answer = owner.api("POST", "/sessions", OWNER, email=EMAIL, password=PASSWORD)
        else:
            answer = owner.page("/auth/login", OWNER, email=EMAIL, password=PASSWORD)

        [header] = device_set_cookie(answer.headers.getlist("Set-Cookie"))
        attributes = {
            name.strip().lower(): value
            for name, _, value in (part.partition("=") for part in header.split(";")[1:])
        }
        assert "httponly" in attributes
        assert attributes["samesite"] == "Lax"
        assert attributes["path"] == "/"
        assert "domain" not in attributes
        assert int(attributes["max-age"]) >= 180 * 24 * 3600
        assert ("secure" in attributes) == (environment == "production")
        # Only random nonces and their signatures: no email, in any form (a check for the
        # letters "bob" in random text would fail now and then by chance).
        value = device_cookie(owner.client)
        assert re.fullmatch(
            r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(~[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})*", value
        )
        assert EMAIL not in value

    @DOORS
    def test_it_survives_logout(self, make: MakeService, door: str) -> None:
        service = make()
        owner = Doors(service.app.test_client())
        assert log_in(owner, door, OWNER) == success(door)
        before = device_cookie(owner.client)

        if door == "api":
            logout = owner.client.delete("/sessions")
        else:
            logout = owner.page("/auth/logout", OWNER)

        assert logout.status_code == 302
        assert device_set_cookie(logout.headers.getlist("Set-Cookie")) == []
        assert owner.client.get("/profile").status_code == 403
        assert device_cookie(owner.client) == before

    def test_a_failed_login_sets_none(self, make: MakeService) -> None:
        service = make()
        stranger = Doors(service.app.test_client())

        answer = stranger.api("POST", "/sessions", OWNER, email=EMAIL, password=WRONG_PASSWORD)

        assert answer.status_code == 401
        assert device_set_cookie(answer.headers.getlist("Set-Cookie")) == []


@pytest.mark.redis
class TestCounterKeys:
    @pytest.fixture
    def storage(self) -> Iterator[RateLimitSettings]:
        with redis_storage() as settings:
            yield settings

    def test_no_redis_key_holds_the_cookie_or_the_email(
        self, make: MakeService, storage: RateLimitSettings
    ) -> None:
        service = make()
        owner = device_of_owner(service)
        log_in(owner, "api", OWNER, WRONG_PASSWORD)
        value = device_cookie(owner.client)

        server = redis.Redis.from_url(str(storage.redis_url))
        keys = [key.decode() for key in server.scan_iter(f"*{storage.key_prefix}*")]
        server.close()
        assert [key for key in keys if "device:" in key]
        nonce, signature = value.split(".")
        assert not [key for key in keys if nonce in key or signature in key or "bob" in key]


class TestSetting:
    def test_the_device_budget_is_read(self) -> None:
        environ = {"USERAUTH_RATELIMIT_DEVICE_FAILURES": "3/minute"}

        assert Settings.from_env(environ).rate_limits.device_failures == "3/minute"
        assert Settings.from_env({}).rate_limits.device_failures == "5/minute;20/hour"

    def test_a_bad_device_budget_is_refused_naming_the_variable(self) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_RATELIMIT_DEVICE_FAILURES"):
            Settings.from_env({"USERAUTH_RATELIMIT_DEVICE_FAILURES": "often"})
