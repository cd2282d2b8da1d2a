"""The rate limits' settings (Flask-Limiter notation) and their shared counter store."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from userauth.settings.reader import IPV6_CLIENT_PREFIX, EnvironmentReader, SettingsError

# The HMAC key of the rate-limit counters' keys: 256 bits, like its generated default.
MIN_KEY_SECRET_LENGTH = 32


@dataclass(frozen=True)
class RateLimitSettings:
    """The limits, per client address unless named per account, and where they are counted."""

    enabled: bool = True
    login: str = "20/minute;200/hour"
    # Failed logins per account, whatever the address: stops a distributed guessing run.
    login_failures: str = "10/minute;50/hour"
    register: str = "10/minute;50/hour"
    reset: str = "10/minute;50/hour"
    # Reset emails per account: nobody can flood someone else's inbox.
    reset_account: str = "5/hour"
    # Failed logins per device cookie (userauth/web/devices.py): a device that has logged
    # into the account counts here instead of in the account's failures.
    device_failures: str = "5/minute;20/hour"
    # The IPv6 networks each per-address limit counts: the client's /64 always, and one
    # bucket more per wider prefix listed (userauth/web/networks.py).
    ipv6_prefixes: tuple[int, ...] = (IPV6_CLIENT_PREFIX,)
    # The shared counter store (REDIS_URL); None: each process counts in memory.
    redis_url: str | None = field(default=None, repr=False)
    key_prefix: str = "userauth"
    # The key of the HMAC that turns an email into its counters' key (no clear email in
    # Redis). Unset, one is generated when the settings are read: `userauth serve` reads
    # them once, before its workers fork, so they share it; several servers must set it.
    key_secret: str | None = field(default=None, repr=False)
    generated_key_secret: str = field(
        default_factory=lambda: secrets.token_hex(MIN_KEY_SECRET_LENGTH), repr=False
    )

    @property
    def counter_key_secret(self) -> bytes:
        """The HMAC key of the per-account counters: the one set, else this process's own."""
        return (self.key_secret or self.generated_key_secret).encode()

    @classmethod
    def read(cls, reader: EnvironmentReader) -> RateLimitSettings:
        """Read USERAUTH_RATELIMIT_* and REDIS_URL.

        Raises:
            SettingsError: a limit not in Flask-Limiter's notation, bad prefixes, a short key.
        """
        return cls(
            enabled=reader.flag("USERAUTH_RATELIMIT_ENABLED", default=True),
            login=reader.limits("USERAUTH_RATELIMIT_LOGIN", cls.login),
            login_failures=reader.limits("USERAUTH_RATELIMIT_LOGIN_FAILURES", cls.login_failures),
            register=reader.limits("USERAUTH_RATELIMIT_REGISTER", cls.register),
            reset=reader.limits("USERAUTH_RATELIMIT_RESET", cls.reset),
            reset_account=reader.limits("USERAUTH_RATELIMIT_RESET_ACCOUNT", cls.reset_account),
            device_failures=reader.limits(
                "USERAUTH_RATELIMIT_DEVICE_FAILURES", cls.device_failures
            ),
            ipv6_prefixes=reader.ipv6_prefixes("USERAUTH_RATELIMIT_IPV6_PREFIXES"),
            redis_url=reader.optional("REDIS_URL"),
            key_prefix=reader.text("USERAUTH_RATELIMIT_KEY_PREFIX", cls.key_prefix),
            key_secret=_key_secret(reader),
        )


def _key_secret(reader: EnvironmentReader) -> str | None:
    secret = reader.optional("USERAUTH_RATELIMIT_KEY_SECRET")
    if secret is not None and len(secret) < MIN_KEY_SECRET_LENGTH:
        raise SettingsError(
            f"USERAUTH_RATELIMIT_KEY_SECRET must be at least {MIN_KEY_SECRET_LENGTH} characters "
            "long (a random secret, e.g. 64 hex digits)"
        )
    return secret
