"""The headers every answer carries: no sniffing, no framing, no referrer, no caching.

A WSGI wrapper around Flask adds each one an answer lacks as the answer starts, so a route
or page that sets its own (the pages' Referrer-Policy) keeps it. Not a Flask after-request
hook: the headers are a list of pairs here, where Flask's `Headers` made the same four
additions cost about 20 k instructions a request (docs/performance.md, issue 23). The hot
path (hot_path.py) writes the same headers into the answers it makes itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    # Answers carry session ids, reset tokens and personal data: no cache may keep them.
    ("Cache-Control", "no-store"),
)
_LOWER_NAMES = tuple((name.lower(), (name, value)) for name, value in SECURITY_HEADERS)


class SecurityHeaders:
    """WSGI middleware: add each of SECURITY_HEADERS that an answer does not set itself."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self._wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            present = {name.lower() for name, _ in headers}
            headers.extend(pair for lower, pair in _LOWER_NAMES if lower not in present)
            return start_response(status, headers, exc_info)

        return self._wsgi_app(environ, start)
