"""A client that can send the same attempt through either door: the JSON API or a page's form."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def address(n: int) -> dict[str, str]:
    """The WSGI environ of a client at its own IPv4 address (10.0.x.y)."""
    return {"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"}


class Doors:
    """One client (one cookie jar) that posts to the API or to the hosted pages."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        page = client.get("/auth/login").get_data(as_text=True)
        found = CSRF.search(page)
        assert found is not None, page
        # Flask-WTF's token belongs to the browser's form session: one serves every form.
        self.csrf_token = found.group(1)

    def api(self, method: str, path: str, environ: dict[str, str], **form: str) -> TestResponse:
        return self.client.open(path, method=method, data=form, environ_base=environ)

    def page(self, path: str, environ: dict[str, str], **form: str) -> TestResponse:
        data = {"csrf_token": self.csrf_token, **form}
        return self.client.post(path, data=data, environ_base=environ)
