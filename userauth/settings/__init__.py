"""Configuration: the one Settings object, in typed sections, and the only reader of os.environ.

Each section is a frozen dataclass read by its own `read` (settings/server.py, database.py,
security.py, rate_limits.py, mail.py, web.py, janitor.py, factors.py, webauthn.py,
accounts.py, oidc.py); what makes a configuration unsafe in production is
settings/production.py's to say.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from userauth import config_file
from userauth.settings.accounts import AccountSettings
from userauth.settings.database import DatabaseSettings, shown_database_url
from userauth.settings.factors import FactorSettings
from userauth.settings.janitor import JanitorSettings
from userauth.settings.mail import MailSettings, SmtpTls
from userauth.settings.oidc import OidcSettings
from userauth.settings.rate_limits import RateLimitSettings
from userauth.settings.reader import IPV6_CLIENT_PREFIX, EnvironmentReader, SettingsError
from userauth.settings.security import (
    HOST_PREFIX,
    SESSION_COOKIE,
    CookieSettings,
    SecuritySettings,
)
from userauth.settings.server import ServerSettings
from userauth.settings.web import GateSettings, WebSettings
from userauth.settings.webauthn import WebAuthnSettings

__all__ = [
    "HOST_PREFIX",
    "IPV6_CLIENT_PREFIX",
    "SECRET_VARIABLES",
    "SESSION_COOKIE",
    "AccountSettings",
    "CookieSettings",
    "DatabaseSettings",
    "FactorSettings",
    "GateSettings",
    "JanitorSettings",
    "MailSettings",
    "OidcSettings",
    "RateLimitSettings",
    "Section",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SmtpTls",
    "WebAuthnSettings",
    "WebSettings",
    "shown_database_url",
]

Environment = Literal["development", "production"]
ENVIRONMENTS = ("development", "production")
# The variables whose values are secrets (passwords in URLs, keys): read once at start-up.
SECRET_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "USERAUTH_SECRET_KEY",
    "USERAUTH_RATELIMIT_KEY_SECRET",
    "USERAUTH_SMTP_PASSWORD",
    "USERAUTH_METRICS_TOKEN",
    "USERAUTH_ENCRYPTION_KEYS",
)

Section = (
    ServerSettings
    | DatabaseSettings
    | SecuritySettings
    | CookieSettings
    | RateLimitSettings
    | MailSettings
    | GateSettings
    | WebSettings
    | JanitorSettings
    | FactorSettings
    | AccountSettings
    | WebAuthnSettings
    | OidcSettings
)


@dataclass(frozen=True)
class Settings:
    """Every knob of userauth, with its default, by section; see the README's settings table."""

    env: Environment = "development"
    # The file the settings were read from under the environment (USERAUTH_CONFIG, ./.env).
    settings_file: str | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    cookies: CookieSettings = field(default_factory=CookieSettings)
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    web: WebSettings = field(default_factory=WebSettings)
    janitor: JanitorSettings = field(default_factory=JanitorSettings)
    factors: FactorSettings = field(default_factory=FactorSettings)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    webauthn: WebAuthnSettings = field(default_factory=WebAuthnSettings)
    oidc: OidcSettings = field(default_factory=OidcSettings)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def session_cookie_name(self) -> str:
        """The session cookie's name: USERAUTH_SESSION_COOKIE (`session_id`), `__Host-`-prefixed in
        production without a cookie domain.

        A `__Host-` cookie is only accepted by a browser when it is Secure, has `Path=/` and no
        `Domain` (RFC 6265bis 4.1.3.2), so a sibling subdomain cannot plant one of that name
        (cookie tossing; OWASP ASVS 4.0.3 V3.4.4). Development keeps the design's `session_id`,
        and so does production with USERAUTH_COOKIE_DOMAIN, where the prefix is not allowed.
        """
        if self.is_production and self.cookies.domain is None:
            return HOST_PREFIX + self.cookies.session_name
        return self.cookies.session_name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables, once.

        Raises:
            SettingsError: a variable holds a value of the wrong kind or range.
        """
        env: Mapping[str, str] = os.environ if environ is None else environ
        # Only the process's own settings look for ./.env: a mapping given is the whole story
        # (unless it names a file itself).
        file = config_file.settings_file(env, look_in_working_folder=environ is None)
        if file is not None:
            env = {**_file_values(file), **env}  # the environment wins
        reader = EnvironmentReader(env)
        production = reader.choice("USERAUTH_ENV", ENVIRONMENTS, "development") == "production"
        return cls(
            env="production" if production else "development",
            settings_file=file,
            database=DatabaseSettings.read(reader),
            server=ServerSettings.read(reader),
            security=SecuritySettings.read(reader, production=production),
            cookies=CookieSettings.read(reader, production=production),
            rate_limits=RateLimitSettings.read(reader),
            mail=MailSettings.read(reader),
            gate=GateSettings.read(reader),
            web=WebSettings.read(reader),
            janitor=JanitorSettings.read(reader),
            factors=FactorSettings.read(reader),
            accounts=AccountSettings.read(reader, production=production),
            webauthn=WebAuthnSettings.read(reader),
            oidc=OidcSettings.read(reader),
        )

    def with_sections(self, *sections: Section) -> Settings:
        """Return a copy with each section given in place of the one of its type."""
        holder = {type(getattr(self, each.name)): each.name for each in fields(self)}
        changes: dict[str, Any] = {holder[type(section)]: section for section in sections}
        return replace(self, **changes)


def _file_values(path: str) -> dict[str, str]:
    try:
        return config_file.file_values(path)
    except config_file.ConfigFileError as error:
        raise SettingsError(str(error)) from None
