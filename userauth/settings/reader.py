"""Typed reading of environment variables, with errors that name the variable."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from limits import parse_many

T = TypeVar("T")

HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
COOKIE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ORIGIN = re.compile(r"https?://[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?")
HOST_NAME = re.compile(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)*")
# One IPv6 client is one /64 (RFC 4291 2.5.1: a host picks its own address within it);
# a network wider than an ISP's /32 allocation would be other people's.
IPV6_CLIENT_PREFIX = 64
WIDEST_IPV6_PREFIX = 32


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


class EnvironmentReader:
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

    def limits(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            parse_many(value)
        except ValueError:
            raise SettingsError(
                f"{name} must be rate limits like '10/minute;50/hour', not {value!r}"
            ) from None
        return value

    def ipv6_prefixes(self, name: str) -> tuple[int, ...]:
        """Read prefix lengths like `64,56,48`: 64 among them, none wider than /32."""
        value = self.text(name, str(IPV6_CLIENT_PREFIX))
        sentence = (
            f"{name} must be IPv6 prefix lengths from {WIDEST_IPV6_PREFIX} to "
            f"{IPV6_CLIENT_PREFIX} separated by commas, {IPV6_CLIENT_PREFIX} among them "
            f"(e.g. 64,56,48), not {value!r}"
        )
        try:
            prefixes = {int(part) for part in value.split(",")}
        except ValueError:
            raise SettingsError(sentence) from None
        in_range = all(WIDEST_IPV6_PREFIX <= prefix <= IPV6_CLIENT_PREFIX for prefix in prefixes)
        if IPV6_CLIENT_PREFIX not in prefixes or not in_range:
            raise SettingsError(sentence)
        return tuple(sorted(prefixes, reverse=True))

    def link_template(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if "{token}" not in value:
            raise SettingsError(f"{name} must contain {{token}} where the reset token goes")
        return value

    def link(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not value.startswith(("https://", "http://")):
            raise SettingsError(f"{name} must be an https:// link, not {value!r}")
        return value

    def header_name(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not HEADER_NAME.fullmatch(value):
            raise SettingsError(f"{name} must be an HTTP header name like X-User, not {value!r}")
        return value

    def hosts(self, name: str) -> tuple[str, ...]:
        hosts = tuple(h.strip().lower() for h in self.text(name, "").split(",") if h.strip())
        for host in hosts:
            if not HOST_NAME.fullmatch(host):
                raise SettingsError(
                    f"{name} must be host names separated by commas (a leading dot allows "
                    f"subdomains), not {host!r}"
                )
        return hosts

    def cookie_name(self, name: str, default: str) -> str:
        value = self.text(name, default)
        # RFC 6265 token characters we need, and no prefix of our own choosing: the prefix
        # is production's to add (Settings.session_cookie_name).
        if not COOKIE_NAME.fullmatch(value) or value.lower().startswith(("__host-", "__secure-")):
            raise SettingsError(
                f"{name} must be a cookie name of letters, digits, '-' and '_' (at most 64, "
                f"without a __Host- or __Secure- prefix), not {value!r}"
            )
        return value

    def folder(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not os.path.isdir(value):
            raise SettingsError(f"{name} must be an existing folder, not {value!r}")
        return value

    def origins(self, name: str) -> tuple[str, ...]:
        origins = tuple(o.strip().lower() for o in self.text(name, "").split(",") if o.strip())
        for origin in origins:
            if not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"{name} must be origins like https://app.example.com separated by commas, "
                    f"not {origin!r}"
                )
        return origins

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
