"""The Cookie request header read as a browser writes it: `name=value` pairs split on `;`.

Werkzeug's parser also reads RFC 2109's quoted values, where `"…"` may hold a `;`. A browser
never quotes: it stores `"` as a value and sends `a="; session_id=V; b="` as four pairs. A
sibling subdomain that plants two cookies whose values are a lone `"` around the person's own
session cookie would make Werkzeug see one session cookie, the planted one (cookie tossing
hidden from the duplicate check). Every read of a cookie that carries authority (the session,
the device) goes through here, so the server sees exactly the pairs the browser sent.
"""

from __future__ import annotations


def cookie_values(header: str | None, name: str) -> list[str]:
    """Return every value sent under `name`, in the order sent (RFC 6265 5.4; no unquoting).

    `header` is the request's Cookie header (the WSGI `HTTP_COOKIE`), or None.
    """
    if not header:
        return []
    values = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        if equals and key.strip() == name:
            values.append(value.strip())
    return values
