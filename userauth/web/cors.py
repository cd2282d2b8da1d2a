"""CORS: which other origins' pages may call the API, with the session cookie (Flask-CORS).

Nothing is allowed by default. Listed origins get credentialed answers; any other origin
gets no CORS header at all, so its browser keeps the answer from its scripts (OWASP HTML5
Security Cheat Sheet: never reflect an arbitrary Origin with credentials).
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from userauth.settings import Settings

# Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600


def install_cors(app: Flask, settings: Settings) -> None:
    """Answer CORS requests from the configured origins only (none when unset)."""
    if not settings.cors_origins:
        return
    CORS(
        app,
        origins=list(settings.cors_origins),
        supports_credentials=True,
        allow_headers=["Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=PREFLIGHT_MAX_AGE,
    )
