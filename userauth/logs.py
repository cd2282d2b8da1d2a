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
        entry = _entry(
            record.created, record.levelname, record.name, record.process, record.getMessage()
        )
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


def _entry(created: float, level: str, name: str, pid: int | None, event: str) -> dict[str, Any]:
    """Return a line's leading fields: time, level, logger, pid, event, and the request id."""
    entry: dict[str, Any] = {
        "time": _timestamp(created),
        "level": level.lower(),
        "logger": name,
        # Which worker wrote it: a server runs several.
        "pid": pid,
        "event": event,
    }
    current_request = request_id.get()
    if current_request is not None:
        entry["request_id"] = current_request
    return entry


# The last second a line was written in, and its text: every line of that second shares it.
_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """Return `created` (seconds since the epoch) as ISO 8601 UTC to the millisecond.

    What `datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")` returns
    (microseconds rounded half to even, then cut to milliseconds), with the date and time
    of day formatted once per second rather than on every line.
    """
    # One shared tuple, replaced whole: threads racing here each write a right pair.
    global _second
    second = int(created)
    micro = round((created - second) * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    cached = _second
    if cached[0] != second:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        cached = _second = (second, text)
    return f"{cached[1]}.{micro // 1000:03d}+00:00"


def log_fields(
    logger: logging.Logger, level: int, event: str, fields: Mapping[str, object]
) -> None:
    """Log `event` with `fields`, as `logger.log(level, event, extra=fields)` writes it.

    When the record would reach the one handler configure_logging installs and nothing else
    (no handler or filter added on the way: the server's setup), the line is formatted and
    written here, the same bytes under the handler's lock, without a LogRecord or the
    handler chain: for the access log, a third of what a cached session check costs
    (docs/performance.md, issue 23). Any other setup (a test's capture, an operator's
    handler) gets the record, less the caller lookup (a walk up the stack): the line's
    source file and line number are never written.
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_json_handler(logger)
    if handler is None or level < handler.level:
        record = logger.makeRecord(logger.name, level, __file__, 0, event, (), None, extra=fields)
        logger.handle(record)
        return
    pid = os.getpid() if logging.logProcesses else None
    entry = _entry(time.time(), logging.getLevelName(level), logger.name, pid, event)
    entry.update(fields)
    line = _ENCODER.encode(entry) + handler.terminator
    handler.acquire()
    try:
        stream = handler.stream
        stream.write(line)
        stream.flush()
    finally:
        handler.release()


def _sole_json_handler(logger: logging.Logger) -> StderrHandler | None:
    """Return the handler a record of `logger` reaches alone, when it is configure_logging's."""
    if logger.filters:
        return None
    current: logging.Logger | None = logger
    while current is not None and not current.handlers:
        if not current.propagate:
            return None
        current = current.parent
    if current is not logging.getLogger() or len(current.handlers) != 1:
        return None
    (handler,) = current.handlers
    if (
        type(handler) is not StderrHandler
        or handler.filters
        or type(handler.formatter) is not JsonFormatter
    ):
        return None
    return handler


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
