"""Logging configuration: one JSON object per line on stderr, set up once per process."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# The id of the request being served, so that every record made during it carries it.
# A ContextVar rather than flask.g: the formatter runs outside Flask too, and a ContextVar
# lookup is cheaper than g's proxy.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and is a field.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Where log_fields() leaves its fields on a record, so the formatter need not look for them.
_FIELDS = "_userauth_fields"
# default=str: a field of an unexpected type must not lose the whole line. One encoder,
# built once: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)


def log_fields(logger: logging.Logger, level: int, event: str, fields: Mapping[str, Any]) -> None:
    """Log `event` with `fields`, as `logger.log(level, event, extra=fields)` would, for less.

    For hot paths that log from one place (the access log): the caller's file and line are
    not looked up, and JsonFormatter takes the fields as given instead of scanning the record.
    """
    if not logger.isEnabledFor(level):
        return
    record = logger.makeRecord(logger.name, level, "(unknown file)", 0, event, (), None)
    # Also as attributes, so that any other formatter sees them as it would see `extra=`.
    record.__dict__.update(fields)
    record.__dict__[_FIELDS] = fields
    logger.handle(record)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, event, then its extra fields."""

    # The last second formatted and its text: log lines come many to a second.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        current_request = request_id.get()
        if current_request is not None:
            entry["request_id"] = current_request
        fields = record.__dict__.get(_FIELDS)
        if fields is not None:
            entry.update(fields)
        else:
            for key, value in record.__dict__.items():
                if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                    entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)

    def _time(self, record: logging.LogRecord) -> str:
        """Return the record's UTC time in ISO 8601, to the millisecond."""
        second = int(record.created)
        cached = self._second
        if cached[0] != second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            # One tuple, replaced whole: threads sharing the formatter see a consistent pair.
            cached = self._second = (second, text)
        return f"{cached[1]}.{int(record.msecs):03d}+00:00"


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

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter and format the record, then write it; only the write holds the lock.

        logging.Handler formats under its lock too, which makes a server's threads queue
        behind each other's JSON encoding; JsonFormatter is safe to share between threads.
        """
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may swap it
            record = passed
        if passed:
            try:
                line = self.format(record) + self.terminator
            except Exception:  # as logging.Handler does: a bad record must not break the app
                self.handleError(record)
            else:
                self._write(line, record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as logging.StreamHandler does
            self.handleError(record)
        else:
            self._write(line, record)

    def _write(self, line: str, record: logging.LogRecord) -> None:
        self.acquire()
        try:
            stream = sys.stderr
            stream.write(line)
            stream.flush()
        except Exception:  # as logging.StreamHandler does
            self.handleError(record)
        finally:
            self.release()


def configure_logging(level: str) -> None:
    """Send every log record as JSON to stderr at `level`; calling it again only sets the level.

    The root logger gets one handler, so libraries' records come out as JSON too.
    """
    root = logging.getLogger()
    if not any(isinstance(handler, StderrHandler) for handler in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's development server logs each request line with its query string, which
    # may carry secrets; userauth's own request log (path without query) replaces it.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
