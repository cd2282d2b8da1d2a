"""Request bodies: a form body that is not UTF-8 is refused before anything reads it.

Werkzeug keeps undecodable percent-escapes as text, so `%FF%FE@example.com` would otherwise
become an account named with the escapes themselves (OWASP Input Validation Cheat Sheet:
validate the encoding before the content).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, request
from werkzeug.exceptions import BadRequest

FORM = "application/x-www-form-urlencoded"


def install_body_checks(app: Flask) -> None:
    """Refuse, with a 400, a form body whose fields are not UTF-8."""
    app.before_request(_refuse_undecodable_form)


def _refuse_undecodable_form() -> None:
    """Check a form body's encoding (the body is cached: the form is parsed from it later).

    Raises:
        BadRequest: a field name or value is not UTF-8 once percent-decoded.
    """
    if request.mimetype != FORM:
        return
    try:
        for field in request.get_data().split(b"&"):
            unquote_to_bytes(field.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the form is not valid UTF-8") from None
