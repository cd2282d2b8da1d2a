"""Configuration: the one Settings object, and the only reader of os.environ."""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal, TypeVar

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from userauth import config_file, secret_box

Environment = Literal["development", "production"]
ENVIRONMENTS = ("development", "production")
SmtpTls = Literal["starttls", "ssl", "none"]
SMTP_TLS_MODES = ("starttls", "ssl", "none")
# Production refuses to hash below this cost (OWASP Password Storage cheat sheet).
MIN_PRODUCTION_BCRYPT_ROUNDS = 10
MAX_WORKERS = 64
# OWASP Cryptographic Storage cheat sheet: a signing key of at least 256 bits of entropy.
MIN_SECRET_KEY_LENGTH = 32
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
COOKIE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ORIGIN = re.compile(r"https?://[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?")
HOST_NAME = re.compile(r"\.?[a-z0-9-]+(\.[a-z0-9-]+)*")
# (backend, driver) pairs userauth is built and tested on.
SUPPORTED_DATABASES = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})
# The service's own file: a.db is the design's, and every design `DB()` empties it.
DEFAULT_DATABASE_URL = "sqlite:///userauth.db"
# Where the service kept its accounts before the design and the service were split.
OLD_DEFAULT_DATABASE_FILE = "a.db"
# Development's address when none is set: it hands reset tokens to anyone who reaches it.
DEVELOPMENT_HOST = "127.0.0.1"
# The HMAC key of the rate-limit counters' keys: 256 bits, like its generated default.
MIN_KEY_SECRET_LENGTH = 32
# One IPv6 client is one /64 (RFC 4291 2.5.1: a host picks its own address within it);
# a network wider than an ISP's /32 allocation would be other people's.
IPV6_CLIENT_PREFIX = 64
WIDEST_IPV6_PREFIX = 32
# The design's session cookie, and the prefix that ties a cookie to this host (RFC 6265bis).
SESSION_COOKIE = "session_id"
HOST_PREFIX = "__Host-"

T = TypeVar("T")


def _usable_cores() -> int:
    """Return the cores this process may run on (a container's share, not the host's)."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


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
# A bearer token guessed online must cost more than it could ever be worth: 256 bits.
MIN_METRICS_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class Settings:
    """Every knob of userauth, with its default; see the README's settings table."""

    env: Environment = "development"
    # The file the settings were read from under the environment (USERAUTH_CONFIG, ./.env).
    settings_file: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    # DATABASE_URL is unset and the service's database was found at the old default, a.db.
    database_at_old_default: bool = False
    sql_echo: bool = False
    # How long a SQLite write waits for another writer's lock before answering 503.
    sqlite_busy_timeout_ms: int = 30_000
    # The address `userauth serve` binds, as set (USERAUTH_HOST or --host); None: unset, and
    # development binds DEVELOPMENT_HOST while production refuses to start (listen_host).
    host: str | None = None
    port: int = 5000
    # granian: one worker process per core, each with up to `threads` threads running requests
    # (started on demand), to overlap database waits and bcrypt (which releases the GIL).
    # Connections and request heads are read in Rust, but a request's body is read by its
    # thread: many threads, so that clients sending bodies slowly cannot hold all of them.
    workers: int = field(default_factory=_usable_cores)
    threads: int = 64
    bcrypt_rounds: int = 12
    # OWASP Session Management cheat sheet: 15-30 min idle for low-risk apps, and an absolute
    # lifetime matching a working day (4-8 h).
    session_idle_timeout: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=8)
    # Live sessions each process keeps in memory (0: off), so a check reads no database;
    # any change to a user's sessions reaches every process first (userauth/session_cache.py).
    session_cache_size: int = 10_000
    reset_token_lifetime: timedelta = timedelta(minutes=30)
    # Sensitive actions (enrolling or removing a factor) need an authentication this recent.
    reauth_window: timedelta = timedelta(minutes=10)
    # Wrong second-factor codes per account per 15 minutes, across its pending logins.
    code_failures: int = 10
    # Fernet keys for readable secrets at rest (secret_box.py): the first encrypts, all
    # decrypt. Empty: development's generated key; production refuses to start.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    cookie_secure: bool = False
    redis_url: str | None = field(default=None, repr=False)
    trusted_proxies: int = 0
    log_level: str = "INFO"
    # Where the workers of one server share their metric files (prometheus_client's
    # multiprocess mode); None: each app counts alone. `userauth serve` sets its own.
    metrics_dir: str | None = None
    # Set: GET /metrics answers only requests with `Authorization: Bearer <token>`.
    metrics_token: str | None = field(default=None, repr=False)
    # Let `userauth serve` upgrade a database that is behind instead of refusing to start.
    auto_migrate: bool = False
    debug: bool = False
    # Rate limits (Flask-Limiter notation). Per client address unless named per account.
    ratelimit_enabled: bool = True
    ratelimit_login: str = "20/minute;200/hour"
    # Failed logins per account, whatever the address: stops a distributed guessing run.
    ratelimit_login_failures: str = "10/minute;50/hour"
    ratelimit_register: str = "10/minute;50/hour"
    ratelimit_reset: str = "10/minute;50/hour"
    # Reset emails per account: nobody can flood someone else's inbox.
    ratelimit_reset_account: str = "5/hour"
    # Failed logins per device cookie (userauth/web/devices.py): a device that has logged
    # into the account counts here instead of in the account's failures.
    ratelimit_device_failures: str = "5/minute;20/hour"
    # The IPv6 networks each per-address limit counts: the client's /64 always, and one
    # bucket more per wider prefix listed (userauth/web/networks.py).
    ratelimit_ipv6_prefixes: tuple[int, ...] = (IPV6_CLIENT_PREFIX,)
    ratelimit_key_prefix: str = "userauth"
    # The key of the HMAC that turns an email into its counters' key (no clear email in
    # Redis). Unset, one is generated when the settings are read: `userauth serve` reads
    # them once, before its workers fork, so they share it; several servers must set it.
    ratelimit_key_secret: str | None = field(default=None, repr=False)
    generated_key_secret: str = field(
        default_factory=lambda: secrets.token_hex(MIN_KEY_SECRET_LENGTH), repr=False
    )
    # Reset by email (production).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: SmtpTls = "starttls"
    mail_sender: str = "userauth@localhost"
    reset_link_template: str = "http://localhost:5000/reset_password?token={token}"
    # The page where an owner asks for a reset, linked from the "account already exists"
    # notice; None: derived from reset_link_template when it is userauth's own (mail.py).
    forgot_link: str | None = None
    # The wait before a failed mail is tried again; it doubles with each failure.
    mail_retry_delay: timedelta = timedelta(seconds=30)
    # Forward-auth gate (GET /auth/verify): the identity headers it answers with.
    gate_user_header: str = "X-Auth-Request-User"
    gate_email_header: str = "X-Auth-Request-Email"
    # The header carrying the session's assurance level (1 or 2, NIST SP 800-63B).
    gate_aal_header: str = "X-Auth-Request-AAL"
    # Where the gate's redirect mode sends a visitor without a session.
    login_url: str = "/auth/login"
    # Hosts a `next` URL may send the browser to, besides paths on this site; an entry
    # starting with a dot allows the domain and its subdomains (OWASP: allow-list only).
    redirect_hosts: tuple[str, ...] = ()
    # Domain attribute of the session cookie, so one login covers subdomains.
    cookie_domain: str | None = None
    # The session cookie's name (the design's by default); production without a cookie
    # domain sends it `__Host-`-prefixed (session_cookie_name).
    session_cookie: str = SESSION_COOKIE
    # Origins (scheme://host[:port]) whose pages may call the API with the session cookie.
    cors_origins: tuple[str, ...] = ()
    # Hosted pages under /auth/ (sign up, log in, forgot, reset, account).
    pages_enabled: bool = True
    # Signs the pages' form cookie (CSRF secret, notices). Unset, development draws one per
    # start (shared by that server's workers); production requires it, the same everywhere.
    secret_key: str | None = field(default=None, repr=False)
    # A folder whose userauth/*.html templates replace the built-in ones.
    templates_dir: str | None = None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def listen_host(self) -> str:
        """The address to bind: the one set, else development's loopback-only default."""
        return DEVELOPMENT_HOST if self.host is None else self.host

    @property
    def session_cookie_name(self) -> str:
        """The session cookie's name: USERAUTH_SESSION_COOKIE (`session_id`), `__Host-`-prefixed in
        production without a cookie domain.

        A `__Host-` cookie is only accepted by a browser when it is Secure, has `Path=/` and no
        `Domain` (RFC 6265bis 4.1.3.2), so a sibling subdomain cannot plant one of that name
        (cookie tossing; OWASP ASVS 4.0.3 V3.4.4). Development keeps the design's `session_id`,
        and so does production with USERAUTH_COOKIE_DOMAIN, where the prefix is not allowed.
        """
        if self.is_production and self.cookie_domain is None:
            return HOST_PREFIX + self.session_cookie
        return self.session_cookie

    @property
    def counter_key_secret(self) -> bytes:
        """The HMAC key of the per-account counters: the one set, else this process's own."""
        return (self.ratelimit_key_secret or self.generated_key_secret).encode()

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
        reader = _Reader(env)
        production = reader.choice("USERAUTH_ENV", ENVIRONMENTS, "development") == "production"
        environment: Environment = "production" if production else "development"
        return cls(
            env=environment,
            settings_file=file,
            **_server_settings(reader),
            **_security_settings(reader, production=production),
            **_rate_limit_settings(reader),
            **_mail_settings(reader),
            **_gate_settings(reader),
        )

    def production_problems(self) -> list[str]:
        """Return one sentence per setting that makes this production configuration unsafe."""
        if not self.is_production:
            return []
        problems = []
        if not self.smtp_host:
            problems.append(
                "USERAUTH_SMTP_HOST must be set: production sends reset links by email."
            )
        if self.bcrypt_rounds < MIN_PRODUCTION_BCRYPT_ROUNDS:
            problems.append(
                f"USERAUTH_BCRYPT_ROUNDS must be at least {MIN_PRODUCTION_BCRYPT_ROUNDS} in "
                f"production, not {self.bcrypt_rounds}."
            )
        if self.debug:
            problems.append("USERAUTH_DEBUG must be off in production.")
        if not self.cookie_secure:
            problems.append("USERAUTH_COOKIE_SECURE must be on in production.")
        if self.reset_link_template == Settings.reset_link_template or not (
            self.reset_link_template.startswith("https://")
        ):
            problems.append(
                "USERAUTH_RESET_LINK must be your application's https:// reset page, "
                "with {token} where the token goes."
            )
        if not self.ratelimit_enabled:
            problems.append("USERAUTH_RATELIMIT_ENABLED must be on in production.")
        if self.database_url.startswith("sqlite") and ":memory:" in self.database_url:
            problems.append("DATABASE_URL must not be an in-memory database in production.")
        if not self.encryption_keys:
            problems.append(
                "USERAUTH_ENCRYPTION_KEYS must be set in production: it encrypts the TOTP "
                "seeds at rest (generate one with: userauth keys generate)."
            )
        if self.secret_key is None:
            # Needed with the pages off too: a key drawn per process would make every device
            # cookie worthless after a restart or on another server (owners locked out again).
            problems.append(
                "USERAUTH_SECRET_KEY must be set in production (the same on every server): "
                "it signs the device cookies and the hosted pages' forms."
            )
        return problems

    def serving_problems(self) -> list[str]:
        """Return production_problems(), and what is unsafe only when serving many workers."""
        problems = self.production_problems()
        if self.is_production and self.host is None:
            # No default is right for both: a server behind a proxy on the same machine must
            # not be reachable around it (clients would forge X-Forwarded-For), and one in a
            # container must listen on every address. The operator says which.
            problems.append(
                "USERAUTH_HOST (or --host) must be set in production: 127.0.0.1 behind a "
                "proxy on this machine, 0.0.0.0 to be reached from other hosts."
            )
        if self.is_production and self.workers > 1 and not self.redis_url:
            # Each worker would count alone: a 20/minute limit would let 20 per worker through.
            problems.append(
                f"REDIS_URL must be set in production with {self.workers} workers: without a "
                "shared counter store each worker counts rate limits alone (or set "
                "USERAUTH_WORKERS=1)."
            )
        if self.is_production and self.redis_url and not self.ratelimit_key_secret:
            # Servers with different keys count one account under different keys.
            problems.append(
                "USERAUTH_RATELIMIT_KEY_SECRET must be set in production with a shared "
                "counter store, the same on every server (generate one with: python3 -c "
                "'import secrets; print(secrets.token_hex(32))')."
            )
        return problems

    def development_warning(self) -> str | None:
        """Return the one-line warning development prints at start-up (None in production)."""
        if self.is_production:
            return None
        return (
            "USERAUTH_ENV=development: reset tokens are returned in responses, answers reveal "
            "which emails are registered, cookies are not Secure and weak passwords are "
            "accepted; set USERAUTH_ENV=production for real users."
        )

    def database_notice(self) -> str | None:
        """Return the start-up line saying the database was found at the old default, or None."""
        if not self.database_at_old_default:
            return None
        return (
            f"DATABASE_URL is unset and the service's database was found at "
            f"{OLD_DEFAULT_DATABASE_FILE}, the old default: it is used. Move it to userauth.db "
            f"or set DATABASE_URL={self.database_url}."
        )

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with some fields replaced (used by tests and the CLI)."""
        return replace(self, **changes)


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


def _file_values(path: str) -> dict[str, str]:
    try:
        return config_file.file_values(path)
    except config_file.ConfigFileError as error:
        raise SettingsError(str(error)) from None


def _server_settings(reader: _Reader) -> dict[str, Any]:
    database_url = reader.optional("DATABASE_URL")
    at_old_default = database_url is None and _service_database_at_old_default()
    if database_url is None:
        database_url = f"sqlite:///{OLD_DEFAULT_DATABASE_FILE}" if at_old_default else None
    return {
        "database_url": _database_url(database_url or DEFAULT_DATABASE_URL),
        "database_at_old_default": at_old_default,
        "sql_echo": reader.flag("USERAUTH_SQL_ECHO", default=False),
        "sqlite_busy_timeout_ms": reader.integer(
            "USERAUTH_SQLITE_BUSY_TIMEOUT_MS", Settings.sqlite_busy_timeout_ms, minimum=0
        ),
        "host": reader.optional("USERAUTH_HOST"),
        "port": reader.integer("USERAUTH_PORT", 5000, minimum=1, maximum=65535),
        "workers": reader.integer(
            "USERAUTH_WORKERS", _usable_cores(), minimum=1, maximum=MAX_WORKERS
        ),
        "threads": reader.integer("USERAUTH_THREADS", 64, minimum=1, maximum=256),
        "redis_url": reader.optional("REDIS_URL"),
        "trusted_proxies": reader.integer("USERAUTH_TRUSTED_PROXIES", 0, minimum=0),
        "log_level": reader.choice(
            "USERAUTH_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
        ),
        "metrics_dir": reader.folder("PROMETHEUS_MULTIPROC_DIR"),
        "metrics_token": _metrics_token(reader),
        "auto_migrate": reader.flag("USERAUTH_AUTO_MIGRATE", default=False),
        "debug": reader.flag("USERAUTH_DEBUG", default=False),
    }


def _security_settings(reader: _Reader, *, production: bool) -> dict[str, Any]:
    def minutes(name: str, default: int) -> timedelta:
        return timedelta(minutes=reader.integer(name, default, minimum=1))

    return {
        "bcrypt_rounds": reader.integer("USERAUTH_BCRYPT_ROUNDS", 12, minimum=4, maximum=31),
        "session_idle_timeout": minutes("USERAUTH_SESSION_IDLE_MINUTES", 30),
        "session_lifetime": minutes("USERAUTH_SESSION_LIFETIME_MINUTES", 480),
        "session_cache_size": _session_cache_size(reader),
        "reset_token_lifetime": minutes("USERAUTH_RESET_TOKEN_MINUTES", 30),
        "reauth_window": minutes("USERAUTH_REAUTH_MINUTES", 10),
        "code_failures": reader.integer("USERAUTH_CODE_FAILURES", 10, minimum=1, maximum=100),
        "encryption_keys": _encryption_keys(reader),
        "cookie_secure": reader.flag("USERAUTH_COOKIE_SECURE", default=production),
        "secret_key": _secret_key(reader, production=production),
    }


def _rate_limit_settings(reader: _Reader) -> dict[str, Any]:
    limits = {
        "ratelimit_login": "USERAUTH_RATELIMIT_LOGIN",
        "ratelimit_login_failures": "USERAUTH_RATELIMIT_LOGIN_FAILURES",
        "ratelimit_register": "USERAUTH_RATELIMIT_REGISTER",
        "ratelimit_reset": "USERAUTH_RATELIMIT_RESET",
        "ratelimit_reset_account": "USERAUTH_RATELIMIT_RESET_ACCOUNT",
        "ratelimit_device_failures": "USERAUTH_RATELIMIT_DEVICE_FAILURES",
    }
    values: dict[str, Any] = {
        field_name: reader.limits(variable, getattr(Settings, field_name))
        for field_name, variable in limits.items()
    }
    values["ratelimit_enabled"] = reader.flag("USERAUTH_RATELIMIT_ENABLED", default=True)
    values["ratelimit_ipv6_prefixes"] = reader.ipv6_prefixes("USERAUTH_RATELIMIT_IPV6_PREFIXES")
    values["ratelimit_key_prefix"] = reader.text(
        "USERAUTH_RATELIMIT_KEY_PREFIX", Settings.ratelimit_key_prefix
    )
    secret = reader.optional("USERAUTH_RATELIMIT_KEY_SECRET")
    if secret is not None and len(secret) < MIN_KEY_SECRET_LENGTH:
        raise SettingsError(
            f"USERAUTH_RATELIMIT_KEY_SECRET must be at least {MIN_KEY_SECRET_LENGTH} characters "
            "long (a random secret, e.g. 64 hex digits)"
        )
    values["ratelimit_key_secret"] = secret
    return values


def _gate_settings(reader: _Reader) -> dict[str, Any]:
    return {
        "gate_user_header": reader.header_name(
            "USERAUTH_GATE_USER_HEADER", Settings.gate_user_header
        ),
        "gate_email_header": reader.header_name(
            "USERAUTH_GATE_EMAIL_HEADER", Settings.gate_email_header
        ),
        "gate_aal_header": reader.header_name(
            "USERAUTH_GATE_AAL_HEADER", Settings.gate_aal_header
        ),
        "login_url": reader.text("USERAUTH_LOGIN_URL", Settings.login_url),
        "redirect_hosts": reader.hosts("USERAUTH_REDIRECT_HOSTS"),
        "cookie_domain": reader.optional("USERAUTH_COOKIE_DOMAIN"),
        "session_cookie": reader.cookie_name("USERAUTH_SESSION_COOKIE", SESSION_COOKIE),
        "cors_origins": reader.origins("USERAUTH_CORS_ORIGINS"),
        "pages_enabled": reader.flag("USERAUTH_PAGES", default=True),
        "templates_dir": reader.folder("USERAUTH_TEMPLATES_DIR"),
    }


def _encryption_keys(reader: _Reader) -> tuple[str, ...]:
    value = reader.optional("USERAUTH_ENCRYPTION_KEYS") or ""
    keys = tuple(key.strip() for key in value.split(",") if key.strip())
    if not all(secret_box.is_valid_key(key) for key in keys):
        raise SettingsError(
            "USERAUTH_ENCRYPTION_KEYS must be Fernet keys, comma-separated (make one with: "
            "userauth keys generate)"
        )
    return keys


def _secret_key(reader: _Reader, *, production: bool) -> str | None:
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


def _metrics_token(reader: _Reader) -> str | None:
    token = reader.optional("USERAUTH_METRICS_TOKEN")
    if token is not None and len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise SettingsError(
            f"USERAUTH_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


def _mail_settings(reader: _Reader) -> dict[str, Any]:
    return {
        "smtp_host": reader.optional("USERAUTH_SMTP_HOST"),
        "smtp_port": reader.integer("USERAUTH_SMTP_PORT", 587, minimum=1, maximum=65535),
        "smtp_user": reader.optional("USERAUTH_SMTP_USER"),
        "smtp_password": reader.optional("USERAUTH_SMTP_PASSWORD"),
        "smtp_tls": _smtp_tls(reader.choice("USERAUTH_SMTP_TLS", SMTP_TLS_MODES, "starttls")),
        "mail_sender": reader.text("USERAUTH_MAIL_FROM", Settings.mail_sender),
        "reset_link_template": reader.link_template(
            "USERAUTH_RESET_LINK", Settings.reset_link_template
        ),
        "forgot_link": reader.link("USERAUTH_FORGOT_LINK"),
        "mail_retry_delay": timedelta(
            seconds=reader.integer("USERAUTH_MAIL_RETRY_SECONDS", 30, minimum=1, maximum=3600)
        ),
    }


def _session_cache_size(reader: _Reader) -> int:
    if not reader.flag("USERAUTH_SESSION_CACHE", default=True):
        return 0
    return reader.integer(
        "USERAUTH_SESSION_CACHE_SIZE", Settings.session_cache_size, minimum=1, maximum=10_000_000
    )


def _smtp_tls(value: str) -> SmtpTls:
    if value == "ssl":
        return "ssl"
    return "none" if value == "none" else "starttls"


def _parse_flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


def _service_database_at_old_default() -> bool:
    """Tell whether a.db, and no userauth.db, is here and holds the service's tables."""
    if os.path.exists(DEFAULT_DATABASE_URL.removeprefix("sqlite:///")):
        return False
    if not os.path.isfile(OLD_DEFAULT_DATABASE_FILE):
        return False
    uri = f"file:{OLD_DEFAULT_DATABASE_FILE}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
    except sqlite3.Error:
        return False
    return found is not None


def shown_database_url(url: str) -> str:
    """Return DATABASE_URL as start-up lines and commands show it: no password, and a SQLite
    file by its absolute path (a relative one is in the working folder, which differs
    between the server and a command run by hand)."""
    parsed = make_url(url)
    name = parsed.database or ""
    file = name not in ("", ":memory:") and not name.startswith("file:")
    if parsed.get_backend_name() == "sqlite" and file:
        parsed = parsed.set(database=os.path.abspath(name))
    return parsed.render_as_string(hide_password=True)


def _database_url(url: str) -> str:
    """Return DATABASE_URL if it names a database userauth runs on (SQLite, PostgreSQL).

    Raises:
        SettingsError: the URL cannot be parsed or names another database; the message
            never repeats the URL, which may hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(
            "DATABASE_URL must be a URL like sqlite:///userauth.db or "
            "postgresql+psycopg://user@host/db; the one given cannot be parsed"
        ) from None
    if (parsed.get_backend_name(), parsed.get_driver_name()) not in SUPPORTED_DATABASES:
        raise SettingsError(
            "DATABASE_URL must name SQLite (sqlite:///file.db) or PostgreSQL through psycopg "
            f"(postgresql+psycopg://user@host/db), not {parsed.drivername}"
        )
    return url
