"""The production server: userauth's Flask app under gunicorn."""

from __future__ import annotations

import logging
import socket
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from sqlalchemy.engine import make_url

from userauth.settings import Settings
from userauth.web import create_app

logger = logging.getLogger("userauth.server")

# Seconds a worker may take to finish its requests after SIGTERM before it is killed.
GRACEFUL_TIMEOUT = 30


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from Settings; each worker builds its own app after the fork."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        settings = self._settings
        options: dict[str, Any] = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.workers,
            "threads": settings.threads,
            "worker_class": "gthread",
            "graceful_timeout": GRACEFUL_TIMEOUT,
            # A listening socket per worker: the kernel spreads connections evenly, where a
            # shared one lets whichever worker wakes first take every kept-alive connection.
            "reuse_port": True,
            "proc_name": "userauth",
            "loglevel": settings.log_level.lower(),
            "logconfig_dict": _json_logging(settings.log_level),
            "logger_class": _GunicornLog,
            "when_ready": lambda _arbiter: logger.info(announcement(settings)),
        }
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 24+ opens a shared control socket; two servers on one host would clash.
            options["control_socket_disable"] = True
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Built in the worker, so no database connection crosses a fork.
        app = create_app(self._settings)
        # Each worker sends mail from the shared outbox table, including mail a stopped
        # server left there.
        app.extensions["userauth"].outbox.start()
        return app


class _GunicornLog(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without its access log, which userauth's request log replaces.

    Silencing "gunicorn.access" is not enough: gunicorn still builds each line's fields.
    """

    def access(self, *_args: Any) -> None:
        pass


def _json_logging(level: str) -> dict[str, Any]:
    """gunicorn's own lines as JSON through userauth's handler; its access log stays off,
    since userauth's request log (path without query string) replaces it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "userauth.logs.JsonFormatter"}},
        "handlers": {"json": {"()": "userauth.logs.StderrHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def announcement(settings: Settings) -> str:
    """Return the start-up line: where the server listens and which database it uses."""
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    return (
        f"userauth serving on http://{settings.host}:{settings.port} "
        f"(workers {settings.workers}, threads {settings.threads}), database {database}"
    )


def ensure_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) when something already listens on host:port.

    Workers bind with SO_REUSEPORT, which would let a second server quietly share the port
    with the first; an operator starting one over another must hear about it instead.
    """
    address = host.strip("[]")  # gunicorn takes an IPv6 address in brackets too
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.create_server((address, port), family=family):
        pass


def serve(settings: Settings) -> None:
    """Run gunicorn in the foreground until SIGTERM or SIGINT (graceful stop)."""
    GunicornServer(settings).run()
