"""The production server: userauth's Flask app under granian, a Rust HTTP server, as WSGI.

Chosen by measurement over gunicorn (gthread and gevent workers) and waitress
(`python -m bench.servers_compare`, docs/performance.md "Choosing the server"): granian accepts
connections and reads request heads in Rust, so idle clients hold no Python thread (a body
still arriving holds its request's thread: hence many threads); it answers malformed requests
with a bodiless 4xx, never an HTML page; and it finishes requests in flight on SIGTERM.

`start()` is `userauth serve`'s start-up sequence (the command only reads its options).
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import resource
import socket
from functools import partial
from multiprocessing.util import Finalize
from typing import Any

from flask import Flask
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import MPServer
from sqlalchemy.engine import make_url

from userauth import secret_box, worker_signals
from userauth.migrations import MigrationError
from userauth.migrations.child import UnreachableDatabaseError, ensure_current_in_child
from userauth.settings import (
    SECRET_VARIABLES,
    DatabaseSettings,
    Settings,
    shown_database_url,
)
from userauth.settings.production import serving_problems
from userauth.web import create_app
from userauth.web.context import auth_of

logger = logging.getLogger("userauth.server")

# Seconds the workers may take to finish their requests after SIGTERM before they are killed.
GRACEFUL_TIMEOUT = 30
# Connections each worker keeps open at once, idle ones included (granian's "backpressure"
# counts connections, not requests: its default, 512 with two workers, let 1,000 idle clients
# lock /healthz out). Each costs a file descriptor and a few kB of buffers.
MAX_CONNECTIONS_PER_WORKER = 4096
# The kernel's queue of connections not yet accepted, shared by the workers.
LISTEN_BACKLOG = 2048
# A thread idle this long ends (granian's minimum). At its default, 30 s, a worker that had
# started many threads (slow clients) waited for them at SIGTERM until it was killed at 30 s.
THREAD_IDLE_SECONDS = 5
# The largest request head (request line and headers) read: a longer one is answered 431
# without a body. As nginx's per-line limit and gunicorn's per-header one: 8 KiB.
MAX_REQUEST_HEAD_BYTES = 8192


class CannotStartError(Exception):
    """`userauth serve` cannot start; the message says why in one line."""


class UnsafeSettingsError(CannotStartError):
    """The settings are unsafe to serve with: one sentence per problem, one per line."""


def start(settings: Settings) -> None:
    """Run `userauth serve`'s start-up sequence, then serve until a stop signal.

    Refuses unsafe settings before any worker boots, checks the database schema once (so the
    workers never race to create or migrate it), checks the port, then forks the workers.

    Raises:
        UnsafeSettingsError: serving_problems() names some (the command exits with 2).
        CannotStartError: the database is unreachable or behind, or the port is taken.
    """
    problems = serving_problems(settings)
    if problems:
        raise UnsafeSettingsError("\n".join(problems))
    _ensure_current_schema(settings.database)
    host, port = settings.server.listen_host, settings.server.port
    try:
        ensure_port_free(host, port)
    except OSError as error:
        raise CannotStartError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    preload_native_libraries(settings.database)
    # Every module is imported by now, and the workers forked next share those pages with
    # this process until written: frozen, the objects are never visited by a worker's
    # collector, so they stay shared (the gc.freeze documentation's advice before a fork).
    gc.freeze()
    serve(settings)


def preload_native_libraries(database: DatabaseSettings) -> None:
    """Import the native libraries workers load on first use, before they are forked.

    The database's driver (psycopg with libpq, for PostgreSQL) and the cryptography library
    (secret_box: every TOTP login decrypts a seed). Imported in each worker, a library counts
    in its resident set with every page its import touched (relocations, initialisation);
    imported here, the workers share those pages and touch only what they run. Measured on
    a forked child (docs/performance.md, issue 24's footprint): 6 MB less per PostgreSQL
    worker once it has served a second factor, for 1 to 9 MB more in this process. Nothing
    is opened: no connection, no key.
    """
    make_url(database.url).get_dialect().import_dbapi()
    secret_box.load_library()


def _ensure_current_schema(database: DatabaseSettings) -> None:
    """Create or check the schema, or upgrade it with USERAUTH_AUTO_MIGRATE.

    Raises:
        CannotStartError: the database is unreachable, or behind without auto-migration.
    """
    shown = shown_database_url(database.url)
    try:
        ensure_current_in_child(database.url, auto_migrate=database.auto_migrate)
    except UnreachableDatabaseError as error:
        first_line = str(error).strip().splitlines()[0]
        raise CannotStartError(f"cannot reach the database {shown}: {first_line}") from None
    except MigrationError as error:
        raise CannotStartError(f"database {shown}: {error}") from None


def build_server(settings: Settings) -> MPServer:
    """Return granian configured from `settings`, not yet started (`serve()` starts it)."""
    # Worker processes (granian's MPServer), never its threads-only mode for free-threaded
    # Python: each worker builds its own app, engine and outbox after the fork.
    server = MPServer(
        # Only named in granian's own lines: the loader below builds the app in each worker.
        "userauth",
        address=settings.server.listen_host.strip("[]"),
        port=settings.server.port,
        interface=Interfaces.WSGI,
        # HTTP/1.1 only: what proxies speak to an upstream, and one set of header limits
        # (an HTTP/2 client's headers would be bounded by another, far larger, setting).
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(max_buffer_size=MAX_REQUEST_HEAD_BYTES),
        workers=settings.server.workers,
        # The threads that run requests. A body is read by its request's thread, so many
        # (started on demand) keep slow senders from holding them all; granian's start-up
        # warning that this is "quite high" for the cores is expected, and filtered out
        # (logs.IntentionalChoices; bench.servers_compare).
        blocking_threads=settings.server.threads,
        blocking_threads_idle_timeout=THREAD_IDLE_SECONDS,
        backlog=LISTEN_BACKLOG,
        backpressure=MAX_CONNECTIONS_PER_WORKER,
        websockets=False,
        log_level=LogLevels(settings.server.log_level.lower()),
        log_dictconfig=_json_logging(settings.server.log_level),
        # userauth's request log (path without query string) replaces granian's access log.
        log_access=False,
        workers_kill_timeout=GRACEFUL_TIMEOUT,
        # As gunicorn did: a worker that dies is replaced, the server keeps serving.
        respawn_failed_workers=True,
    )
    server.on_startup(partial(_announce, settings))
    return server


def serve(settings: Settings) -> None:
    """Run granian in the foreground until SIGTERM or SIGINT (graceful stop).

    Workers are forked (multiprocessing); each listens on its own SO_REUSEPORT socket and
    builds its own app (load_app), whose finalizer runs when the worker stops.
    """
    _raise_open_file_limit(settings.server.workers * MAX_CONNECTIONS_PER_WORKER + 1024)
    forget_secret_variables()
    worker_signals.hold_stop_signals_across_forks()
    build_server(settings).serve(target_loader=partial(load_app, settings), wrap_loader=False)


def forget_secret_variables() -> None:
    """Remove the variables that hold secrets (settings.SECRET_VARIABLES) from this process.

    granian copies its worker's environment into every request's WSGI environ, where
    anything that shows an environ (a debugger, an error report) would show them; the
    settings are read by now, and the workers get them as an object.
    """
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)


def load_app(settings: Settings) -> Flask:
    """Build the app inside a worker with its outbox sender, idle-clock writer and janitor running.

    Built in the worker, so no database connection crosses a fork; the threads stop at the
    worker's exit, the first two writing what they hold.

    Raises:
        SystemExit: a stop signal reached the worker while it was starting (it ends, with
            its threads' finalizers, before serving anything: worker_signals.py).
    """
    app = create_app(settings)
    outbox = auth_of(app).outbox
    # Each worker sends mail from the shared outbox table, including mail a stopped server
    # left there.
    outbox.start()
    # granian's workers end through multiprocessing, which skips atexit: a finalizer is what
    # runs when the worker's serving loop returns after SIGTERM, so due mail still goes out.
    Finalize(None, outbox.stop, exitpriority=10)
    # Idle clocks are written off the request path. A higher priority runs first: the
    # writer's last write (a second's touches) before the outbox's drain of up to 10 s.
    idle_clock = auth_of(app).sessions.write_idle_clocks_in_background()
    Finalize(None, idle_clock.stop, exitpriority=11)
    # Every worker runs a janitor thread; the database's lease lets one per deployment prune
    # at a time. Stopped first: it holds nothing that must be written.
    janitor = auth_of(app).janitor
    janitor.start()
    Finalize(None, janitor.stop, exitpriority=12)
    worker_signals.app_built()
    return app


def _raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit of open files towards `wanted`, as far as the hard limit allows.

    A common soft default is 1,024, which a few hundred idle clients would exhaust; the
    workers inherit the limit through the fork.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _announce(settings: Settings) -> None:
    logger.info(announcement(settings))
    logger.debug(
        "server settings",
        extra={
            "server": "granian",
            "workers": settings.server.workers,
            "threads": settings.server.threads,
            "graceful_timeout": GRACEFUL_TIMEOUT,
        },
    )


def _json_logging(level: str) -> dict[str, Any]:
    """granian's own lines as JSON through userauth's handler; its access log stays off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "userauth.logs.JsonFormatter"}},
        "filters": {"intentional": {"()": "userauth.logs.IntentionalChoices"}},
        "handlers": {"json": {"()": "userauth.logs.StderrHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "_granian": {
                "level": level,
                "handlers": [],
                "propagate": True,
                # Its warning about our many threads: a choice, explained in the README.
                "filters": ["intentional"],
            },
            "granian.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def announcement(settings: Settings) -> str:
    """Return the start-up line: where the server listens and which database it uses."""
    database = shown_database_url(settings.database.url)
    server = settings.server
    host = server.listen_host
    origin = "development's default host" if server.host is None else "host as set"
    return (
        f"userauth serving on http://{host}:{server.port} ({origin}: {_reach(host)}; "
        f"workers {server.workers}, threads {server.threads}), database {database}"
    )


def _reach(host: str) -> str:
    """Say who can reach a server bound to `host`."""
    address = host.strip("[]")
    if address in ("0.0.0.0", "::", ""):  # noqa: S104 - naming it, not binding it
        return "every address of this machine"
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = address == "localhost"
    return "this machine only" if loopback else "this address only"


def ensure_port_free(host: str, port: int) -> None:
    """Raise OSError (address in use) when something already listens on host:port.

    granian's workers each bind with SO_REUSEPORT, which would let a second server quietly
    share the port with the first; an operator starting one over another must hear about it.
    """
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.create_server((address, port), family=family):
        pass
