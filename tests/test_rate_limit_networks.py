"""Per-address limits count an IPv6 client by its /64 network (and, when asked, by wider ones),
an IPv4-mapped address as its IPv4 address, one with a port without it, and every
unparseable one in a single shared bucket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.doors import Doors
from tests.smtp import ServiceFactory
from tests.test_rate_limits import redis_storage
from userauth.settings import RateLimitSettings, ServerSettings, Settings, SettingsError
from userauth.web.networks import client_key, widened

EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
WRONG_PASSWORD = "wrong-but-long-enough-7"
NEW_PASSWORD = "amber-lantern-quiet-17"
# The proxy in front, trusted to say who the client is (USERAUTH_TRUSTED_PROXIES=1).
PROXY = "192.0.2.1"
LIMIT = 3


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[RateLimitSettings]:
    """Settings for the limiter's storage: in memory (the default), or Redis."""
    if request.param == "memory":
        yield RateLimitSettings()
        return
    with redis_storage() as settings:
        yield settings


@pytest.fixture
def behind_proxy(make_service: ServiceFactory, storage: RateLimitSettings) -> Callable[..., Doors]:
    """Build a development app behind one trusted proxy; keyword arguments change its limits."""

    def build(**limits: Any) -> Doors:
        proxy = ServerSettings(trusted_proxies=1)
        service = make_service("development", proxy, replace(storage, **limits))
        service.auth.register_user(EMAIL, PASSWORD)
        return Doors(service.client)

    return build


def via_proxy(client: str) -> dict[str, str]:
    """The WSGI environ of a request the proxy forwards for `client`."""
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client}


def sign_up(doors: Doors, client: str, n: int) -> int:
    form = {"email": f"user{n}@example.com", "password": PASSWORD}
    return doors.api("POST", "/users", via_proxy(client), **form).status_code


Attempt = Callable[[Doors, dict[str, str], int], TestResponse]

# Every per-address limit, through each door: (setting, attempt(doors, environ, n)).
PER_ADDRESS: dict[str, tuple[str, Attempt]] = {
    "login-api": (
        "login",
        lambda d, e, n: d.api(
            "POST", "/sessions", e, email=f"user{n}@example.com", password=WRONG_PASSWORD
        ),
    ),
    "login-page": (
        "login",
        lambda d, e, n: d.page(
            "/auth/login", e, email=f"user{n}@example.com", password=WRONG_PASSWORD
        ),
    ),
    "sign-up-api": (
        "register",
        lambda d, e, n: d.api(
            "POST", "/users", e, email=f"user{n}@example.com", password=PASSWORD
        ),
    ),
    "sign-up-page": (
        "register",
        lambda d, e, n: d.page("/auth/signup", e, email=f"user{n}@example.com", password=PASSWORD),
    ),
    "reset-request-api": (
        "reset",
        lambda d, e, n: d.api("POST", "/reset_password", e, email=f"user{n}@example.com"),
    ),
    "reset-request-page": (
        "reset",
        lambda d, e, n: d.page("/auth/forgot", e, email=f"user{n}@example.com"),
    ),
    "reset-attempt-api": (
        "reset",
        lambda d, e, n: d.api(
            "PUT",
            "/reset_password",
            e,
            email=EMAIL,
            reset_token=f"x{n}",
            new_password=NEW_PASSWORD,
        ),
    ),
    "reset-attempt-page": (
        "reset",
        lambda d, e, n: d.page("/auth/reset", e, token=f"x{n}", new_password=NEW_PASSWORD),
    ),
}


class TestIPv6ClientIsItsSlash64:
    def test_twelve_sign_ups_from_one_slash64_through_a_trusted_proxy_meet_the_limit(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy()  # the default 10/minute per address

        statuses = [sign_up(doors, f"2001:db8:1:3::{n}", n) for n in range(1, 13)]

        assert statuses == [200] * 10 + [429] * 2

    @pytest.mark.parametrize("name", PER_ADDRESS.keys())
    def test_each_per_address_limit_counts_a_slash64_once_and_leaves_the_next_alone(
        self, behind_proxy: Callable[..., Doors], name: str
    ) -> None:
        setting, attempt = PER_ADDRESS[name]
        doors = behind_proxy(**{setting: f"{LIMIT}/minute"})
        spent = [
            attempt(doors, via_proxy(f"2001:db8:1:3:{n}::{n}"), n).status_code
            for n in range(1, LIMIT + 1)
        ]

        same_network = attempt(doors, via_proxy("2001:db8:1:3:ffff::9"), 9).status_code
        next_network = attempt(doors, via_proxy("2001:db8:1:4::1"), 10).status_code

        assert 429 not in spent
        assert same_network == 429
        assert next_network != 429

    def test_a_client_connecting_over_ipv6_without_a_proxy_is_its_slash64(
        self, make_service: ServiceFactory, storage: RateLimitSettings
    ) -> None:
        service = make_service("development", replace(storage, register=f"{LIMIT}/minute"))
        doors = Doors(service.client)

        statuses = [
            doors.api(
                "POST",
                "/users",
                {"REMOTE_ADDR": f"2001:db8:5:6::{n}"},
                email=f"user{n}@example.com",
                password=PASSWORD,
            ).status_code
            for n in range(1, LIMIT + 2)
        ]

        assert statuses == [200] * LIMIT + [429]


class TestIPv4:
    def test_each_ipv4_address_of_one_network_counts_alone(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy()

        statuses = [sign_up(doors, f"198.51.100.{n}", n) for n in range(1, 13)]

        assert statuses == [200] * 12

    def test_wider_ipv6_buckets_leave_ipv4_alone(self, behind_proxy: Callable[..., Doors]) -> None:
        doors = behind_proxy(register="1/minute", ipv6_prefixes=(64, 56, 48))

        statuses = [sign_up(doors, f"198.51.100.{n}", n) for n in range(1, 21)]

        assert statuses == [200] * 20


class TestMappedAddresses:
    def test_a_mapped_address_shares_its_ipv4_addresss_budget(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy(register=f"{LIMIT}/minute")
        clients = ["::ffff:198.51.100.7", "198.51.100.7", "::ffff:c633:6407"]

        spent = [sign_up(doors, client, n) for n, client in enumerate(clients)]

        assert spent == [200] * LIMIT
        assert sign_up(doors, "198.51.100.7", 9) == 429
        assert sign_up(doors, "::ffff:198.51.100.7", 10) == 429

    def test_mapped_addresses_of_different_ipv4_clients_count_apart(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        # All of them lie in one IPv6 /64 (::ffff:0:0/96): keyed by it, they would share.
        doors = behind_proxy(register=f"{LIMIT}/minute")

        statuses = [sign_up(doors, f"::ffff:198.51.100.{n}", n) for n in range(1, 13)]

        assert statuses == [200] * 12


class TestWiderBuckets:
    """USERAUTH_RATELIMIT_IPV6_PREFIXES=64,56,48: a /56 gets 4 times the limit, a /48 16."""

    def test_a_slash56_gets_four_times_the_limit_across_its_slash64s(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy(register="1/minute", ipv6_prefixes=(64, 56, 48))
        # 2001:db8:1:300::/56 holds the /64s 2001:db8:1:300:: to 2001:db8:1:3ff::.
        spent = [sign_up(doors, f"2001:db8:1:3{n:02x}::1", n) for n in range(4)]

        fifth = sign_up(doors, "2001:db8:1:3f0::1", 5)
        next_slash56 = sign_up(doors, "2001:db8:1:400::1", 6)

        assert spent == [200] * 4
        assert fifth == 429
        assert next_slash56 == 200

    def test_a_slash48_gets_sixteen_times_the_limit_across_its_slash56s(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy(register="1/minute", ipv6_prefixes=(64, 56, 48))
        # One /64 in each of sixteen /56s of 2001:db8:1::/48.
        spent = [sign_up(doors, f"2001:db8:1:{n:02x}00::1", n) for n in range(16)]

        seventeenth = sign_up(doors, "2001:db8:1:ff00::1", 17)
        next_slash48 = sign_up(doors, "2001:db8:2::1", 18)

        assert spent == [200] * 16
        assert seventeenth == 429
        assert next_slash48 == 200

    def test_without_the_setting_only_the_slash64_counts(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        doors = behind_proxy(register="1/minute")

        statuses = [sign_up(doors, f"2001:db8:1:3{n:02x}::1", n) for n in range(12)]

        assert statuses == [200] * 12


class TestUnparseableAddresses:
    @pytest.mark.parametrize(
        "client", ["unknown", "2001:db8::1::2", "198.51.100.300", "_hidden"], ids=str
    )
    def test_an_address_that_is_no_ip_is_counted_and_answered(
        self, behind_proxy: Callable[..., Doors], client: str
    ) -> None:
        doors = behind_proxy(register=f"{LIMIT}/minute")

        statuses = [sign_up(doors, client, n) for n in range(LIMIT + 1)]

        assert statuses == [200] * LIMIT + [429]

    def test_unparseable_addresses_share_one_budget(
        self, behind_proxy: Callable[..., Doors]
    ) -> None:
        # Keyed under its own text, each made-up name would be a fresh budget (review).
        doors = behind_proxy(register=f"{LIMIT}/minute")
        names = [f"client-{n}" for n in range(LIMIT + 1)]

        statuses = [sign_up(doors, name, n) for n, name in enumerate(names)]

        assert statuses == [200] * LIMIT + [429]

    @pytest.mark.parametrize(
        ("with_port", "without"),
        [("198.51.100.7:5678", "198.51.100.7"), ("[2001:db8:1:3::1]:443", "2001:db8:1:3::9")],
        ids=["ipv4-port", "ipv6-bracketed-port"],
    )
    def test_a_port_a_proxy_wrote_is_the_same_client(
        self, behind_proxy: Callable[..., Doors], with_port: str, without: str
    ) -> None:
        doors = behind_proxy(register=f"{LIMIT}/minute")

        spent = [sign_up(doors, with_port, n) for n in range(LIMIT)]
        next_one = sign_up(doors, without, LIMIT)

        assert spent == [200] * LIMIT
        assert next_one == 429


class TestClientKey:
    @pytest.mark.parametrize(
        ("address", "key"),
        [
            ("198.51.100.7", "198.51.100.7"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
            ("2001:DB8:1:3:a:b:c:d", "2001:db8:1:3::/64"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            ("fe80::1%eth0", "fe80::/64"),
            ("::1", "::/64"),
            ("198.51.100.7:5678", "198.51.100.7"),
            ("[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"),
            ("[2001:db8:1:3::1]", "2001:db8:1:3::/64"),
            ("unknown", "unparsed"),
            ("", "unparsed"),
        ],
        ids=[
            "ipv4",
            "ipv6",
            "ipv6-upper-case",
            "mapped",
            "scoped",
            "loopback",
            "ipv4-port",
            "ipv6-port",
            "ipv6-brackets",
            "name",
            "empty",
        ],
    )
    def test_it_keys_each_kind_of_address(self, address: str, key: str) -> None:
        assert client_key(address) == key


class TestWidened:
    @pytest.mark.parametrize(
        ("prefix", "limits"),
        [
            (64, "10 per 1 minute;50 per 1 hour"),
            (56, "40 per 1 minute;200 per 1 hour"),
            (48, "160 per 1 minute;800 per 1 hour"),
        ],
        ids=["slash64", "slash56", "slash48"],
    )
    def test_it_doubles_the_limits_every_four_bits(self, prefix: int, limits: str) -> None:
        assert widened("10/minute;50/hour", prefix) == limits


class TestSetting:
    @pytest.mark.parametrize(
        ("value", "prefixes"),
        [(None, (64,)), ("64", (64,)), ("48, 64,56", (64, 56, 48)), ("64,32", (64, 32))],
        ids=["unset", "64", "unordered", "widest"],
    )
    def test_it_reads_prefix_lengths(self, value: str | None, prefixes: tuple[int, ...]) -> None:
        environ = {} if value is None else {"USERAUTH_RATELIMIT_IPV6_PREFIXES": value}

        assert Settings.from_env(environ).rate_limits.ipv6_prefixes == prefixes

    @pytest.mark.parametrize(
        "value", ["56,48", "64,16", "64,128", "64,/56", "sixty-four"], ids=str
    )
    def test_it_refuses_other_values_naming_the_variable(self, value: str) -> None:
        with pytest.raises(SettingsError, match="USERAUTH_RATELIMIT_IPV6_PREFIXES"):
            Settings.from_env({"USERAUTH_RATELIMIT_IPV6_PREFIXES": value})
