"""Baseline (w): a bare WSGI callable, no framework, the true floor of any answer under its server.

It answers every request with the same constant JSON as the bare Flask route
(bench/bare.py), so the two rows side by side show what Flask itself costs a request, and
userauth's gate (answered by a WSGI layer before Flask) is judged against it. Run by the
benchmark with the same server and settings as `userauth serve`:
`granian --interface wsgi --workers W --blocking-threads T bench.bare_wsgi:app`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# Byte for byte what bench/bare.py's jsonify answers (compact, one trailing newline).
BODY = b'{"message":"Bienvenue"}\n'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer 200 with the constant JSON, whatever the request."""
    start_response("200 OK", list(HEADERS))
    return [BODY]
