"""Configuration: the one Settings object, and the only reader of os.environ."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Literal, TypeVar

Environment = Literal["development", "production"]
ENVIRONMENTS = ("development", "production")

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every knob of userauth, with its default; see the README's settings table."""

    env: Environment = "development"
    database_url: str = "sqlite:///a.db"
    sql_echo: bool = False
    host: str = "0.0.0.0"  # noqa: S104 - a service is reached from other hosts
    port: int = 5000
    # gunicorn: one process per core, threads to overlap database waits and bcrypt (which
    # releases the GIL).
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: int = 4
    bcrypt_rounds: int = 12
    # OWASP Session Management cheat sheet: 15-30 min idle for low-risk apps, and an absolute
    # lifetime matching a working day (4-8 h).
    session_idle_timeout: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=8)
    reset_token_lifetime: timedelta = timedelta(minutes=30)
    cookie_secure: bool = False
    redis_url: str | None = field(default=None, repr=False)
    trusted_proxies: int = 0
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables, once.

        Raises:
            SettingsError: a variable holds a value of the wrong kind or range.
        """
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        production = reader.choice("USERAUTH_ENV", ENVIRONMENTS, "development") == "production"
        environment: Environment = "production" if production else "development"
        return cls(
            env=environment,
            database_url=reader.text("DATABASE_URL", cls.database_url),
            sql_echo=reader.flag("USERAUTH_SQL_ECHO", default=False),
            host=reader.text("USERAUTH_HOST", cls.host),
            port=reader.integer("USERAUTH_PORT", 5000, minimum=1, maximum=65535),
            workers=reader.integer("USERAUTH_WORKERS", os.cpu_count() or 1, minimum=1, maximum=64),
            threads=reader.integer("USERAUTH_THREADS", 4, minimum=1, maximum=64),
            bcrypt_rounds=reader.integer("USERAUTH_BCRYPT_ROUNDS", 12, minimum=4, maximum=31),
            session_idle_timeout=timedelta(
                minutes=reader.integer("USERAUTH_SESSION_IDLE_MINUTES", 30, minimum=1)
            ),
            session_lifetime=timedelta(
                minutes=reader.integer("USERAUTH_SESSION_LIFETIME_MINUTES", 480, minimum=1)
            ),
            reset_token_lifetime=timedelta(
                minutes=reader.integer("USERAUTH_RESET_TOKEN_MINUTES", 30, minimum=1)
            ),
            cookie_secure=reader.flag("USERAUTH_COOKIE_SECURE", default=production),
            redis_url=reader.optional("REDIS_URL"),
            trusted_proxies=reader.integer("USERAUTH_TRUSTED_PROXIES", 0, minimum=0),
            log_level=reader.choice(
                "USERAUTH_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
            ),
        )

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (used by tests and the CLI)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


class _Reader:
    """Typed access to environment variables, with errors that name the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        return self._convert(name, value, _parse_flag, "true or false")

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.optional(name)
        number = default if value is None else self._convert(name, value, int, "a whole number")
        if minimum is not None and number < minimum:
            raise SettingsError(f"{name} must be at least {minimum}, not {number}")
        if maximum is not None and number > maximum:
            raise SettingsError(f"{name} must be at most {maximum}, not {number}")
        return number

    @staticmethod
    def _convert(name: str, value: str, parse: Callable[[str], T], kind: str) -> T:
        try:
            return parse(value)
        except ValueError:
            raise SettingsError(f"{name} must be {kind}, not {value!r}") from None


def _parse_flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)
