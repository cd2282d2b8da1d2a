"""What the peer apps share: where their tables live, seeding's command line, session cookies.

Runs inside each peer's own virtual environment (bench/.venvs/<peer>/), never userauth's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

Seed = Callable[[int, int, str], list[tuple[str, str]]]


def schema() -> str | None:
    """Return the PostgreSQL schema of this peer's tables (PEER_SCHEMA), or None on SQLite.

    Each peer keeps its documented table names ("user", ...): a schema of its own in the
    benchmark's database keeps them apart from userauth's tables and from each other.
    """
    return os.environ.get("PEER_SCHEMA") or None


def engine_options() -> dict[str, Any]:
    """Return Flask-SQLAlchemy's SQLALCHEMY_ENGINE_OPTIONS: the docs' default, plus the schema."""
    name = schema()
    if name is None:
        return {}
    return {"connect_args": {"options": f"-csearch_path={name}"}}


def session_cookie(app: Any, login: Callable[[Any], object], user: Any) -> str:
    """Log `user` in through the library's own `login` in a request, return its Cookie value.

    What a successful POST /login would set, without paying a bcrypt check per session: the
    request comes from loopback with no X-Forwarded-For and no User-Agent, as wrk's do, so
    Flask-Login's session protection sees the client it logged in (else every answer would
    carry a new cookie marked not fresh).
    """
    from flask import session

    loopback = {"REMOTE_ADDR": "127.0.0.1"}
    with app.test_request_context("/login", method="POST", environ_base=loopback):
        login(user)
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
        return str(response.headers["Set-Cookie"]).split(";", 1)[0]


def seed_main(seed: Seed) -> int:
    """`python peer_X.py seed USERS SESSIONS OUT`: write accounts, then OUT's session lines.

    The benchmark has emptied the peer's schema (or file) before. Each line of OUT is
    `<Cookie header value>\\t<email>`; every account's password is BENCH_PASSWORD.
    """
    if len(sys.argv) != 5 or sys.argv[1] != "seed":
        print(f"usage: {sys.argv[0]} seed USERS SESSIONS OUT", file=sys.stderr)
        return 2
    users, sessions, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    lines = seed(users, sessions, os.environ["BENCH_PASSWORD"])
    with open(out, "w") as file:
        file.writelines(f"{cookie}\t{email}\n" for cookie, email in lines)
    return 0
