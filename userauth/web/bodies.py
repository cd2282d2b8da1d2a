"""Request bodies: only a form or JSON, in UTF-8, reaches a route; anything else is refused.

A body is `application/x-www-form-urlencoded` or `application/json` (README, HTTP API), in
UTF-8 and not compressed. Any other type, charset or coding is a 415 before anything parses
it: Werkzeug would parse a multipart form too and replace its undecodable bytes with U+FFFD,
read a charset parameter's way, or JSON in UTF-16, so `\\xff\\xfe@example.com` would become an
account named `\\ufffd\\ufffd@example.com` (OWASP Input Validation Cheat Sheet: validate the
encoding before the content; RFC 9110 15.5.16). Werkzeug keeps a form's undecodable
percent-escapes as text, so a form whose fields are not UTF-8 is a 400 of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from flask import Flask, Request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from userauth.web.request_hooks import request_hooks

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
ACCEPTED_TYPES = (FORM, JSON)
# The methods of the routes and pages that read a body (DELETE routes take none).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UTF_8_NAMES = frozenset({"utf-8", "utf8"})
IDENTITY_CODINGS = frozenset({"", "identity"})


class UnsupportedBodyError(UnsupportedMediaType):
    """A body of a type, charset or content coding the routes do not take (415)."""

    description = f"the body must be {FORM} or {JSON}, in UTF-8 and not compressed"

    def get_headers(
        self, environ: WSGIEnvironment | None = None, scope: dict[str, object] | None = None
    ) -> list[tuple[str, str]]:
        # RFC 9110 15.5.16: Accept tells the client which media types would have been taken.
        return [*super().get_headers(environ, scope), ("Accept", ", ".join(ACCEPTED_TYPES))]


def install_body_checks(app: Flask) -> None:
    """Refuse a body that is not a UTF-8 form or JSON (415), and a form not UTF-8 inside (400)."""
    hooks = request_hooks(app)
    hooks.before(_refuse_unsupported_body)
    hooks.before(_refuse_undecodable_form)


def _refuse_unsupported_body(current: Request) -> None:
    """Check the type, charset and coding of a body sent to a route that reads one.

    Raises:
        UnsupportedBodyError: any type but a form or JSON, a charset other than UTF-8, a
            content coding (gzip, …), or a JSON body whose bytes are not UTF-8 (RFC 8259 8.1).
    """
    if current.method not in BODY_METHODS or current.url_rule is None or not _has_body(current):
        return
    charset = current.mimetype_params.get("charset", "utf-8").strip().lower()
    coding = current.headers.get("Content-Encoding", "").strip().lower()
    if (
        current.mimetype not in ACCEPTED_TYPES
        or charset not in UTF_8_NAMES
        or coding not in IDENTITY_CODINGS
    ):
        raise UnsupportedBodyError
    if current.mimetype == JSON and not _is_utf_8([current.get_data()]):
        raise UnsupportedBodyError


def _has_body(current: Request) -> bool:
    """Tell whether the request has a body: a length above 0, or chunks of unannounced size."""
    chunked = "chunked" in current.headers.get("Transfer-Encoding", "").lower()
    return chunked or bool(current.content_length)


def _refuse_undecodable_form(current: Request) -> None:
    """Check a form body's encoding (the body is cached: the form is parsed from it later).

    Raises:
        BadRequest: a field name or value is not UTF-8 once percent-decoded.
    """
    if current.mimetype != FORM:
        return
    fields = current.get_data().split(b"&")
    if not _is_utf_8(unquote_to_bytes(field.replace(b"+", b" ")) for field in fields):
        raise BadRequest("the form is not valid UTF-8")


def _is_utf_8(chunks: Iterable[bytes]) -> bool:
    try:
        for chunk in chunks:
            chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
