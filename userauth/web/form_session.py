"""The pages' signed cookie (Flask's session): opened only for a request that carries one.

Flask opens its session on every request; the default interface builds an itsdangerous
serializer each time, even when no cookie came. Only the hosted pages keep anything in it
(a form's CSRF secret, one-shot notices), so the API's requests, the gate's and the probes'
skip that work: without the cookie the session starts empty, exactly as Flask's own would.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class FormSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with no signing work for a request without the cookie."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        name = self.get_cookie_name(app)
        # The raw header first: parsing every cookie (request.cookies) costs a request that
        # carries others (the API's session cookie) about 20 k instructions for nothing.
        sent = name in request.environ.get("HTTP_COOKIE", "") and request.cookies.get(name)
        if app.secret_key and not sent:
            return self.session_class()
        return super().open_session(app, request)
