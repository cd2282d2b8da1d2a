"""Logging configuration: one JSON object per line on stderr, set up once per process."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# The id of the request being served, so that every record made during it carries it.
# A ContextVar rather than flask.g: the formatter runs outside Flask too.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# One encoder for every line: json.dumps with options builds a new one per call.
# default=str: a field of an unexpected type must not lose the whole line.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)

# Attributes every LogRecord has; anything else was passed through `extra=` and is a field.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, pid, event, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            # Which worker wrote it: a server runs several.
            "pid": record.process,
            "event": record.getMessage(),
        }
        current_request = request_id.get()
        if current_request is not None:
            entry["request_id"] = current_request
        entry.update(
            {
                key: value
                for key, value in record.__dict__.items()
                if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
            }
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever sys.stderr is at the time of each record (test capture swaps it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class IntentionalChoices(logging.Filter):
    """Drop the library warnings that question a choice userauth made on purpose.

    granian warns at every start that more Python threads than twice the cores "seems quite
    high": userauth serve's 64 threads per worker are there so that clients sending bodies
    slowly cannot hold every thread (docs/operations.md "Serving"). An operator reading that
    warning at each start learns nothing but to ignore warnings.
    """

    QUESTIONED = ("seems quite high compared to the number of CPU cores",)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(phrase in message for phrase in self.QUESTIONED)


def configure_logging(level: str) -> None:
    """Send every log record as JSON to stderr at `level`; calling it again only sets the level.

    The root logger gets one handler, so libraries' records come out as JSON too.
    """
    # The records' thread and multiprocessing names are never written (JsonFormatter): not
    # looking them up is the logging HOWTO's "Optimization" advice.
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if not any(isinstance(handler, StderrHandler) for handler in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's development server logs each request line with its query string, which
    # may carry secrets; userauth's own request log (path without query) replaces it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
