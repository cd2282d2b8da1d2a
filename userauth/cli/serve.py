"""`userauth serve`: run the server (userauth/server.py) under granian."""

from __future__ import annotations

from dataclasses import replace

import click

from userauth.allocator import configure_granian_allocator
from userauth.cli.opening import load_settings
from userauth.metrics_directory import prepare_multiprocess_metrics


@click.command()
@click.option(
    "--host",
    help="Address to bind (default: USERAUTH_HOST; unset, development binds 127.0.0.1 and "
    "production refuses to start).",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default: USERAUTH_PORT or 5000)."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option("--threads", type=click.IntRange(1, 256), help="Threads per worker (default: 64).")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve userauth under granian; SIGTERM stops it gracefully.

    Refuses to start on a database behind the current schema unless USERAUTH_AUTO_MIGRATE is
    true, in which case it upgrades it first.
    """
    # First of all: prometheus_client, which the server's module imports, decides at import
    # whether values go to files, and a forked worker inherits that decision; the settings,
    # read next, pass the directory to every worker. granian's allocator, likewise, reads
    # its options once, before the fork.
    prepare_multiprocess_metrics()
    configure_granian_allocator()
    from userauth.server import CannotStartError, UnsafeSettingsError, start

    settings = load_settings()
    if settings.settings_file is not None:
        # As every other command: which file the settings came from, before anything fails.
        click.echo(f"settings file: {settings.settings_file}", err=True)
    server = settings.server
    settings = settings.with_sections(
        replace(
            server,
            host=server.host if host is None else host,
            port=server.port if port is None else port,
            workers=server.workers if workers is None else workers,
            threads=server.threads if threads is None else threads,
        )
    )
    try:
        start(settings)
    except UnsafeSettingsError as error:
        click.echo(f"userauth cannot start:\n{error}", err=True)
        raise SystemExit(2) from None
    except CannotStartError as error:
        raise click.ClickException(str(error)) from None
