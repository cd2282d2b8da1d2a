"""Safe under a real server's concurrency: a connection per unit of work, unique emails."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.conftest import GENEROUS_LIMITS
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.errors import EmailTakenError
from userauth.models import users_table
from userauth.web import create_app

THREADS = 16
# Generous, so a slow shared machine fails a test by its assertions, never by a hang.
REQUEST_TIMEOUT = 60
PASSWORD = "b4l0u"
SHARED_EMAIL = "shared@example.com"


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it."""

    step: str
    status: int
    body: str


@pytest.fixture
def app(make_auth: Callable[..., Auth]) -> Flask:
    """The app with generous rate limits: every request here comes from one address."""
    auth = make_auth(GENEROUS_LIMITS)
    return create_app(auth.settings, auth)


@pytest.fixture
def server_url(app: Flask) -> Iterator[str]:
    """Serve the app with Werkzeug's multi-threaded server (a thread per request)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=30)
    server.server_close()


def _send(
    http: requests.Session, step: str, method: str, url: str, data: dict[str, str] | None = None
) -> Outcome:
    with http.request(
        method, url, data=data, timeout=REQUEST_TIMEOUT, allow_redirects=False
    ) as response:
        return Outcome(step, response.status_code, response.text[:200])


def _new_user_flow(url: str, email: str) -> list[Outcome]:
    """Register, log in, read the profile, ask for a reset token, log out: five requests."""
    with requests.Session() as http:
        return [
            _send(
                http,
                "register",
                "POST",
                f"{url}/users",
                data={"email": email, "password": PASSWORD},
            ),
            _send(
                http,
                "login",
                "POST",
                f"{url}/sessions",
                data={"email": email, "password": PASSWORD},
            ),
            _send(http, "profile", "GET", f"{url}/profile"),
            _send(http, "reset request", "POST", f"{url}/reset_password", data={"email": email}),
            _send(http, "logout", "DELETE", f"{url}/sessions"),
        ]


def _shared_user_flow(url: str) -> list[Outcome]:
    """Log in to the one shared account, read the profile, ask for a reset, log out."""
    form = {"email": SHARED_EMAIL, "password": PASSWORD}
    with requests.Session() as http:
        return [
            _send(http, "shared login", "POST", f"{url}/sessions", data=form),
            _send(http, "shared profile", "GET", f"{url}/profile"),
            _send(
                http,
                "shared reset request",
                "POST",
                f"{url}/reset_password",
                data={"email": SHARED_EMAIL},
            ),
            _send(http, "shared logout", "DELETE", f"{url}/sessions"),
        ]


def _run_concurrently(jobs: list[Callable[[], list[Outcome]]]) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [outcome for future in futures for outcome in future.result()]


def _login_status(url: str, email: str) -> int:
    form = {"email": email, "password": PASSWORD}
    with requests.post(f"{url}/sessions", data=form, timeout=REQUEST_TIMEOUT) as response:
        return response.status_code


EXPECTED_STATUS = {
    "register": 200,
    "login": 200,
    "profile": 200,
    "reset request": 200,
    "logout": 302,
    "shared login": 200,
    "shared profile": 200,
    "shared reset request": 200,
    "shared logout": 302,
}


class TestMultiThreadedServer:
    def test_mixed_requests_from_sixteen_threads_never_fail_and_keep_every_account(
        self, server_url: str
    ) -> None:
        assert _login_status(server_url, "nobody@example.com") == 401
        shared = {"email": SHARED_EMAIL, "password": PASSWORD}
        assert requests.post(f"{server_url}/users", data=shared, timeout=REQUEST_TIMEOUT).ok
        emails = [f"user{number}@example.com" for number in range(32)]
        jobs: list[Callable[[], list[Outcome]]] = [
            partial(_new_user_flow, server_url, email) for email in emails
        ]
        # Ten flows on one account make the threads contend for the same rows.
        jobs += [partial(_shared_user_flow, server_url)] * 10

        outcomes = _run_concurrently(jobs)

        assert len(outcomes) == 200
        server_errors = [outcome for outcome in outcomes if outcome.status >= 500]
        assert server_errors == []
        unexpected = [o for o in outcomes if o.status != EXPECTED_STATUS[o.step]]
        assert unexpected == []
        for email in [*emails, SHARED_EMAIL]:
            assert _login_status(server_url, email) == 200, email

    def test_one_email_registered_fifty_times_at_once_gives_one_account(
        self, server_url: str, database_url: str
    ) -> None:
        count = 50
        start = threading.Barrier(count)
        form = {"email": "race@example.com", "password": PASSWORD}

        def register() -> tuple[int, object]:
            start.wait(timeout=REQUEST_TIMEOUT)
            with requests.post(
                f"{server_url}/users", data=form, timeout=REQUEST_TIMEOUT
            ) as answer:
                return answer.status_code, answer.json()

        with ThreadPoolExecutor(max_workers=count) as pool:
            answers = list(pool.map(lambda _: register(), range(count)))

        created = {"email": "race@example.com", "message": "user created"}
        taken = {"message": "email already registered"}
        assert answers.count((200, created)) == 1
        assert answers.count((400, taken)) == count - 1
        assert _login_status(server_url, "race@example.com") == 200
        db = DB(database_url)
        try:
            with db.engine.connect() as connection:
                rows = connection.scalar(select(func.count()).select_from(users_table))
        finally:
            db.close()
        assert rows == 1


class TestUniqueEmail:
    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("ada@example.com", "ada@example.com"),
            ("Ada@Example.com", "ada@example.com"),
            ("ada@example.com", "ADA@EXAMPLE.COM"),
        ],
        ids=["same-case", "capitalised-first", "upper-case-second"],
    )
    def test_the_database_refuses_a_second_user_with_the_same_email(
        self, database_url: str, first: str, second: str
    ) -> None:
        # DB.add_user does no look-up first: only a unique index can refuse the second row.
        migrations.ensure_current(database_url, auto_migrate=True)
        db = DB(database_url)
        try:
            db.add_user(first, b"hash one")
            with pytest.raises(EmailTakenError) as raised:
                db.add_user(second, b"hash two")
            assert isinstance(raised.value, ValueError)
            assert db.find_user_by(email=first).hashed_password == b"hash one"
            with db.engine.connect() as connection:
                assert connection.scalar(select(func.count()).select_from(users_table)) == 1
        finally:
            db.close()


class TestOneStoreSharedByThreads:
    def test_sixteen_threads_writing_and_reading_through_one_db_each_see_their_own_rows(
        self, database_url: str
    ) -> None:
        # Each DB method checks out its own connection: no transaction or connection is
        # shared between threads, so every thread's writes and reads stay its own.
        migrations.ensure_current(database_url, auto_migrate=True)
        db = DB(database_url)
        start = threading.Barrier(THREADS)

        def register_then_rename(number: int) -> tuple[int, str]:
            start.wait(timeout=30)
            user = db.add_user(f"thread{number}@example.com", f"hash-{number}")
            db.update_user(user.id, email=f"renamed{number}@example.com")
            found = db.find_user_by(id=user.id)
            return found.id, f"{found.email} {found.hashed_password.decode()}"

        try:
            with ThreadPoolExecutor(max_workers=THREADS) as pool:
                seen = list(pool.map(register_then_rename, range(THREADS)))
            assert [answer for _, answer in seen] == [
                f"renamed{number}@example.com hash-{number}" for number in range(THREADS)
            ]
            assert len({user_id for user_id, _ in seen}) == THREADS
        finally:
            db.close()
