"""The settings file: KEY=VALUE lines (python-dotenv's format) that the settings read under
the environment.

The file is `USERAUTH_CONFIG` when set (e.g. /etc/userauth/env, which the systemd unit names),
else `.env` in the working folder when there is one. Its values never enter os.environ: the
server forgets secret variables before its workers start (server.forget_secret_variables),
and a value read from a file was never there to forget.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from dotenv import dotenv_values

# The variable naming the file, and the file looked for in the working folder without it.
CONFIG_VARIABLE = "USERAUTH_CONFIG"
WORKING_FOLDER_FILE = ".env"


class ConfigFileError(ValueError):
    """The settings file cannot be read or parsed; the message names it, never a value."""


def file_values(path: str) -> dict[str, str]:
    """Return the KEY=VALUE pairs of a settings file, taken literally (no ${VAR} expansion).

    Format (python-dotenv's): one `KEY=VALUE` per line, an optional `export ` before it,
    blank lines and `#` comments; a value may be quoted ('single' keeps everything as is,
    "double" reads backslash escapes). A `$` is kept as is, so a password may hold one.

    Raises:
        ConfigFileError: the file cannot be read, or a line is not a setting.
    """
    try:
        with open(path, encoding="utf-8") as stream, _parse_warnings() as warnings:
            values = dotenv_values(stream=stream, interpolate=False)
    except OSError as error:
        raise ConfigFileError(f"cannot read the settings file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"the settings file {path} is not UTF-8 text") from None
    if warnings:
        # A line skipped could be USERAUTH_ENV=production: refuse rather than run without it.
        raise ConfigFileError(f"the settings file {path}: {warnings[0]} (KEY=VALUE expected)")
    missing = sorted(name for name, value in values.items() if value is None)
    if missing:
        raise ConfigFileError(
            f"the settings file {path}: {missing[0]} has no value (KEY=VALUE expected)"
        )
    return {name: value for name, value in values.items() if value is not None}


def settings_file(environ: Mapping[str, str], *, look_in_working_folder: bool) -> str | None:
    """Return the settings file to read: USERAUTH_CONFIG, else ./.env if asked and present."""
    named = environ.get(CONFIG_VARIABLE, "").strip()
    if named:
        return os.path.abspath(named)
    if look_in_working_folder and os.path.isfile(WORKING_FOLDER_FILE):
        return os.path.abspath(WORKING_FOLDER_FILE)
    return None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _parse_warnings() -> Iterator[list[str]]:
    """Collect what python-dotenv says of lines it cannot parse (it logs them and goes on)."""
    collector = _Collect()
    library_log = logging.getLogger("dotenv.main")
    propagates = library_log.propagate
    # Said once, in the error the caller raises, not also as a log line.
    library_log.propagate = False
    library_log.addHandler(collector)
    try:
        yield collector.messages
    finally:
        library_log.removeHandler(collector)
        library_log.propagate = propagates
