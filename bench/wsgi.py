"""The userauth app as a WSGI factory, for serving it under servers other than `userauth serve`.

`bench.servers_compare` serves the same app under each contending server; this builds it the
way `userauth serve` builds it in each worker: settings from the environment, the outbox sender
started. The schema must already be current (the benchmark seeds it first).
"""

from __future__ import annotations

from flask import Flask

from userauth.settings import Settings
from userauth.web import create_app
from userauth.web.context import auth_of


def userauth_app() -> Flask:
    """Build userauth's app from the environment, as each worker of `userauth serve` does."""
    app = create_app(Settings.from_env())
    auth_of(app).outbox.start()
    return app
