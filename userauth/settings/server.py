"""The server's settings: where `userauth serve` listens, its processes, logs and metrics."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from userauth.settings.reader import EnvironmentReader, SettingsError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_WORKERS = 64
# Development's address when none is set: it hands reset tokens to anyone who reaches it.
DEVELOPMENT_HOST = "127.0.0.1"
# A bearer token guessed online must cost more than it could ever be worth: 256 bits.
MIN_METRICS_TOKEN_LENGTH = 32


def usable_cores() -> int:
    """Return the cores this process may run on (a container's share, not the host's)."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@dataclass(frozen=True)
class ServerSettings:
    """How the server runs: address, processes, proxies, logs, metrics, debug."""

    # The address `userauth serve` binds, as set (USERAUTH_HOST or --host); None: unset, and
    # development binds DEVELOPMENT_HOST while production refuses to start (listen_host).
    host: str | None = None
    port: int = 5000
    # granian: one worker process per core, each with up to `threads` threads running requests
    # (started on demand), to overlap database waits and bcrypt (which releases the GIL).
    # Connections and request heads are read in Rust, but a request's body is read by its
    # thread: many threads, so that clients sending bodies slowly cannot hold all of them.
    workers: int = field(default_factory=usable_cores)
    threads: int = 64
    trusted_proxies: int = 0
    log_level: str = "INFO"
    # Where the workers of one server share their metric files (prometheus_client's
    # multiprocess mode); None: each app counts alone. `userauth serve` sets its own.
    metrics_dir: str | None = None
    # Set: GET /metrics answers only requests with `Authorization: Bearer <token>`.
    metrics_token: str | None = field(default=None, repr=False)
    debug: bool = False

    @property
    def listen_host(self) -> str:
        """The address to bind: the one set, else development's loopback-only default."""
        return DEVELOPMENT_HOST if self.host is None else self.host

    @classmethod
    def read(cls, reader: EnvironmentReader) -> ServerSettings:
        """Read USERAUTH_HOST, _PORT, _WORKERS, _THREADS, _TRUSTED_PROXIES, _LOG_LEVEL,
        _METRICS_TOKEN, _DEBUG and PROMETHEUS_MULTIPROC_DIR.

        Raises:
            SettingsError: a value of the wrong kind or range.
        """
        return cls(
            host=reader.optional("USERAUTH_HOST"),
            port=reader.integer("USERAUTH_PORT", cls.port, minimum=1, maximum=65535),
            workers=reader.integer(
                "USERAUTH_WORKERS", usable_cores(), minimum=1, maximum=MAX_WORKERS
            ),
            threads=reader.integer("USERAUTH_THREADS", cls.threads, minimum=1, maximum=256),
            trusted_proxies=reader.integer("USERAUTH_TRUSTED_PROXIES", 0, minimum=0),
            log_level=reader.choice("USERAUTH_LOG_LEVEL", LOG_LEVELS, cls.log_level),
            metrics_dir=reader.folder("PROMETHEUS_MULTIPROC_DIR"),
            metrics_token=_metrics_token(reader),
            debug=reader.flag("USERAUTH_DEBUG", default=False),
        )


def _metrics_token(reader: EnvironmentReader) -> str | None:
    token = reader.optional("USERAUTH_METRICS_TOKEN")
    if token is not None and len(token) < MIN_METRICS_TOKEN_LENGTH:
        raise SettingsError(
            f"USERAUTH_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token
