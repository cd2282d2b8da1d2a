"""The web layer's session seam (userauth.web.session): the cookie is read once, the session
resolved once per request, and every route that needs a login refuses without one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from userauth.auth import Auth
from userauth.settings import SESSION_COOKIE

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL").
pytestmark = pytest.mark.databases("sqlite")

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"


@pytest.fixture
def logged_in(auth: Auth, app: Flask) -> FlaskClient:
    auth.register_user(EMAIL, PASSWORD)
    client = app.test_client()
    response = client.post("/sessions", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    return client


@pytest.fixture
def session_reads(auth: Auth) -> Iterator[list[str]]:
    """Collect every statement that looks a session up by its digest (SQLAlchemy's event)."""
    reads: list[str] = []

    def collect(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "sessions.id_digest =" in statement:
            reads.append(statement)

    event.listen(auth.db.engine, "before_cursor_execute", collect)
    yield reads
    event.remove(auth.db.engine, "before_cursor_execute", collect)


class TestOneResolutionPerRequest:
    @pytest.mark.parametrize(
        ("method", "path", "form"),
        [
            ("GET", "/profile", {}),
            ("GET", "/sessions", {}),
            ("PUT", "/profile/password", {"password": PASSWORD, "new_password": "n3w-pass"}),
            ("DELETE", "/sessions", {}),
        ],
        ids=["profile", "session-list", "password-change", "logout"],
    )
    def test_the_session_is_read_once(
        self,
        logged_in: FlaskClient,
        session_reads: list[str],
        method: str,
        path: str,
        form: dict[str, str],
    ) -> None:
        response = logged_in.open(path, method=method, data=form)
        assert response.status_code in {200, 302}
        assert len(session_reads) == 1


class TestTheGuard:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/profile"),
            ("GET", "/sessions"),
            ("DELETE", "/sessions"),
            ("DELETE", "/sessions/1"),
        ],
        ids=["profile", "session-list", "logout", "revoke"],
    )
    @pytest.mark.parametrize("cookie", [None, "not-a-session"], ids=["no-cookie", "unknown"])
    def test_a_route_that_needs_a_login_is_403_without_a_live_session(
        self, client: FlaskClient, method: str, path: str, cookie: str | None
    ) -> None:
        if cookie is not None:
            client.set_cookie(SESSION_COOKIE, cookie)
        response = client.open(path, method=method)
        assert response.status_code == 403
        assert response.get_json() == {"message": "no valid session"}
