"""Logging configuration: one JSON object per line on stderr, set up once per process."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
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
    not looked up, and when userauth's own handler is the only one the record would reach,
    the line is written without building a LogRecord at all.
    """
    if not logger.isEnabledFor(level):
        return
    direct = _sole_handler(logger, level)
    if direct is not None:
        handler, formatter = direct
        handler.write_line(formatter.line(time.time(), level, logger.name, event, fields), logger)
        return
    record = logger.makeRecord(logger.name, level, "(unknown file)", 0, event, (), None)
    # Also as attributes, so that any other formatter sees them as it would see `extra=`.
    record.__dict__.update(fields)
    record.__dict__[_FIELDS] = fields
    logger.handle(record)


def _sole_handler(
    logger: logging.Logger, level: int
) -> tuple[StderrHandler, JsonFormatter] | None:
    """Return userauth's handler when it is the only one a record at `level` would reach,
    with no filter on the way (anything else gets a real LogRecord)."""
    handlers: list[logging.Handler] = []
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    if len(handlers) != 1:
        return None
    (handler,) = handlers
    formatter = handler.formatter
    if (
        isinstance(handler, StderrHandler)
        and isinstance(formatter, JsonFormatter)
        and not handler.filters
        and level >= handler.level
    ):
        return handler, formatter
    return None


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, event, then its extra fields."""

    # The last second formatted and its text: log lines come many to a second.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__.get(_FIELDS)
        if fields is None:
            fields = {
                key: value
                for key, value in record.__dict__.items()
                if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
            }
        if record.exc_info:
            fields = {**fields, "exception": self.formatException(record.exc_info)}
        return self.line(record.created, record.levelno, record.name, record.getMessage(), fields)

    def line(
        self, created: float, level: int, logger: str, event: str, fields: Mapping[str, Any]
    ) -> str:
        """Return the JSON text of one log line (without its line break)."""
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": logging.getLevelName(level).lower(),
            "logger": logger,
            "event": event,
        }
        current_request = request_id.get()
        if current_request is not None:
            entry["request_id"] = current_request
        entry.update(fields)
        return _ENCODER.encode(entry)

    def _time(self, created: float) -> str:
        """Return a time.time() value as UTC ISO 8601, to the millisecond."""
        second = int(created)
        cached = self._second
        if cached[0] != second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            # One tuple, replaced whole: threads sharing the formatter see a consistent pair.
            cached = self._second = (second, text)
        return f"{cached[1]}.{int((created - second) * 1000):03d}+00:00"


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

    def write_line(self, line: str, logger: logging.Logger) -> None:
        """Write one log line (no line break yet) in a single system call, without a lock.

        A line written by one write() does not interleave with others: on a file, and on a
        pipe when it is under PIPE_BUF (4 KiB on Linux), which an access line always is (its
        path is capped at 512 characters, its request id at 128). So the hot path need not
        queue threads behind a lock. Where stderr is not the process's own (a test capturing
        it with capsys), the locked path is taken.
        """
        line += self.terminator
        own = sys.__stderr__
        if own is None or sys.stderr is not own:
            self._write(line, logger.makeRecord(logger.name, logging.INFO, "", 0, line, (), None))
            return
        data = line.encode("utf-8", errors="backslashreplace")
        try:
            descriptor = own.fileno()
            while data:
                data = data[os.write(descriptor, data) :]
        except (OSError, ValueError):  # as logging does: a broken stderr must not break the app
            self.handleError(logger.makeRecord(logger.name, logging.ERROR, "", 0, line, (), None))

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
