"""The security settings: password hashing, session and reset lifetimes, keys, cookies."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from userauth.settings.reader import EnvironmentReader, SettingsError

# OWASP Cryptographic Storage cheat sheet: a signing key of at least 256 bits of entropy.
MIN_SECRET_KEY_LENGTH = 32
# The design's session cookie, and the prefix that ties a cookie to this host (RFC 6265bis).
SESSION_COOKIE = "session_id"
HOST_PREFIX = "__Host-"


@dataclass(frozen=True)
class SecuritySettings:
    """How passwords are hashed, how long sessions and reset links live, the signing key."""

    bcrypt_rounds: int = 12
    # OWASP Session Management cheat sheet: 15-30 min idle for low-risk apps, and an absolute
    # lifetime matching a working day (4-8 h).
    session_idle_timeout: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=8)
    # Live sessions each process keeps in memory (0: off), so a check reads no database;
    # any change to a user's sessions reaches every process first (userauth/session_cache.py).
    session_cache_size: int = 10_000
    reset_token_lifetime: timedelta = timedelta(minutes=30)
    # Signs the pages' form cookie (CSRF secret, notices) and the device cookies. Unset,
    # development draws one per start (shared by that server's workers); production requires
    # it, the same everywhere.
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def read(cls, reader: EnvironmentReader, *, production: bool) -> SecuritySettings:
        """Read USERAUTH_BCRYPT_ROUNDS, the session and reset lifetimes, the session cache
        and USERAUTH_SECRET_KEY.

        Raises:
            SettingsError: a value of the wrong kind or range, or a key too short.
        """

        def minutes(name: str, default: timedelta) -> timedelta:
            whole = int(default.total_seconds()) // 60
            return timedelta(minutes=reader.integer(name, whole, minimum=1))

        return cls(
            bcrypt_rounds=reader.integer(
                "USERAUTH_BCRYPT_ROUNDS", cls.bcrypt_rounds, minimum=4, maximum=31
            ),
            session_idle_timeout=minutes(
                "USERAUTH_SESSION_IDLE_MINUTES", cls.session_idle_timeout
            ),
            session_lifetime=minutes("USERAUTH_SESSION_LIFETIME_MINUTES", cls.session_lifetime),
            session_cache_size=_session_cache_size(reader),
            reset_token_lifetime=minutes("USERAUTH_RESET_TOKEN_MINUTES", cls.reset_token_lifetime),
            secret_key=_secret_key(reader, production=production),
        )


@dataclass(frozen=True)
class CookieSettings:
    """The session cookie: its name, domain and Secure attribute."""

    secure: bool = False
    # Domain attribute of the session cookie, so one login covers subdomains.
    domain: str | None = None
    # The session cookie's name (the design's by default); production without a cookie
    # domain sends it `__Host-`-prefixed (Settings.session_cookie_name).
    session_name: str = SESSION_COOKIE

    @classmethod
    def read(cls, reader: EnvironmentReader, *, production: bool) -> CookieSettings:
        """Read USERAUTH_COOKIE_SECURE (on by default in production), _COOKIE_DOMAIN and
        _SESSION_COOKIE.

        Raises:
            SettingsError: a value that is not a flag or not a cookie name.
        """
        return cls(
            secure=reader.flag("USERAUTH_COOKIE_SECURE", default=production),
            domain=reader.optional("USERAUTH_COOKIE_DOMAIN"),
            session_name=reader.cookie_name("USERAUTH_SESSION_COOKIE", SESSION_COOKIE),
        )


def _session_cache_size(reader: EnvironmentReader) -> int:
    if not reader.flag("USERAUTH_SESSION_CACHE", default=True):
        return 0
    return reader.integer(
        "USERAUTH_SESSION_CACHE_SIZE",
        SecuritySettings.session_cache_size,
        minimum=1,
        maximum=10_000_000,
    )


def _secret_key(reader: EnvironmentReader, *, production: bool) -> str | None:
    key = reader.optional("USERAUTH_SECRET_KEY")
    if key is None:
        # Development: one per start, inherited by every worker the server forks.
        return None if production else secrets.token_urlsafe(32)
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"USERAUTH_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return key
