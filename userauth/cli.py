"""The `userauth` console script: serve the app, and administer it."""

from __future__ import annotations

import click

from userauth.settings import Settings, SettingsError


def _load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run and administer userauth. Settings come from environment variables (README)."""


@main.command()
@click.option("--host", help="Address to bind (default: USERAUTH_HOST or 0.0.0.0).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default: USERAUTH_PORT or 5000)."
)
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option("--threads", type=click.IntRange(1, 64), help="Threads per worker (default: 4).")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve userauth under gunicorn; SIGTERM stops it gracefully."""
    from userauth.server import serve as run_server

    settings = _load_settings()
    overrides = {"host": host, "port": port, "workers": workers, "threads": threads}
    settings = settings.with_changes(**{k: v for k, v in overrides.items() if v is not None})
    run_server(settings)
