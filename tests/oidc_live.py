"""A live provider for relying parties nobody here wrote: the app served on loopback by a
thread (Werkzeug's server), with the real clock, and a user logged in through the API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import TEST_SECURITY
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.settings import DatabaseSettings, Settings
from userauth.web import create_app

EMAIL, PASSWORD = "rp-user@example.com", "a long enough password"


@dataclass(frozen=True)
class LiveProvider:
    issuer: str
    auth: Auth
    # A browser logged in as EMAIL: its session cookie, as a Cookie header's value.
    cookie: str


@pytest.fixture
def live_provider(database_url: str) -> Iterator[LiveProvider]:
    migrations.ensure_current(database_url, auto_migrate=True)
    settings = Settings(database=DatabaseSettings(url=database_url), security=TEST_SECURITY)
    db = DB(database_url)
    auth = Auth(db=db, settings=settings)
    server = make_server("127.0.0.1", 0, create_app(settings, auth), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="provider", daemon=True)
    thread.start()
    issuer = f"http://127.0.0.1:{server.server_port}"
    try:
        browser = requests.Session()
        form = {"email": EMAIL, "password": PASSWORD}
        assert browser.post(f"{issuer}/users", data=form, timeout=10).status_code == 200
        assert browser.post(f"{issuer}/sessions", data=form, timeout=10).status_code == 200
        cookie = f"session_id={browser.cookies['session_id']}"
        yield LiveProvider(issuer, auth, cookie)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.close()
