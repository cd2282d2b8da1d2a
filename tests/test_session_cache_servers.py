"""The session cache across real servers: a session ended through one server is refused by
another server on the same database within a second, every time, its cache warm first.

Each kind of ending runs REPEATS times with a fresh account, on SQLite (one machine, the
counter file) and PostgreSQL (LISTEN/NOTIFY). Both servers run two workers with the cache on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import requests

from tests.conftest import ROOT, ServerProcess
from userauth.admin import Admin
from userauth.auth import Auth

SERVE = [sys.executable, "-m", "userauth", "serve", "--workers", "2"]
PASSWORD = "b4l0u"
NEW_PASSWORD = "n3w-pa55word"
TIMEOUT = 10
# Each repetition is the same ending with a fresh account: ten per kind, on each backend, is
# fifty refusals in all, while a broadcast that is missing or slow fails the first.
REPEATS = 10
# The CLI starts a Python process per run: fewer rounds, same promise.
CLI_REPEATS = 5
# The promise: refused everywhere within this many seconds of the ending's answer.
WITHIN = 1.0
# Checks through the second server before the ending, so its cache holds the session.
WARM_CHECKS = 4

# A latency bound (refused within WITHIN): measured while no other test runs
# (tests/workers.py).
pytestmark = [pytest.mark.slow, pytest.mark.alone]

Ending = Callable[[str, str, str], None]


def register(url: str, email: str) -> None:
    response = requests.post(
        f"{url}/users", data={"email": email, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert response.status_code == 200


def log_in(url: str, email: str) -> str:
    response = requests.post(
        f"{url}/sessions", data={"email": email, "password": PASSWORD}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    session_id = response.cookies.get("session_id")
    assert session_id is not None
    return session_id


def profile_status(url: str, session_id: str) -> int:
    response = requests.get(f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT)
    return response.status_code


def end_by_logout(url: str, _email: str, session_id: str) -> None:
    response = requests.delete(
        f"{url}/sessions", cookies={"session_id": session_id}, timeout=TIMEOUT
    )
    assert response.status_code == 200  # after the redirect to /


def end_by_revocation(url: str, email: str, _session_id: str) -> None:
    mine = {"session_id": log_in(url, email)}
    listed = requests.get(f"{url}/sessions", cookies=mine, timeout=TIMEOUT).json()["sessions"]
    (target,) = [session["id"] for session in listed if not session["current"]]
    response = requests.delete(f"{url}/sessions/{target}", cookies=mine, timeout=TIMEOUT)
    assert response.status_code == 200


def end_by_password_change(url: str, email: str, _session_id: str) -> None:
    response = requests.put(
        f"{url}/profile/password",
        data={"password": PASSWORD, "new_password": NEW_PASSWORD},
        cookies={"session_id": log_in(url, email)},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200


def end_by_reset(url: str, email: str, _session_id: str) -> None:
    issued = requests.post(f"{url}/reset_password", data={"email": email}, timeout=TIMEOUT)
    token = issued.json()["reset_token"]
    response = requests.put(
        f"{url}/reset_password",
        data={"email": email, "reset_token": token, "new_password": NEW_PASSWORD},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200


ENDINGS = [end_by_logout, end_by_revocation, end_by_password_change, end_by_reset]


@pytest.fixture
def servers(start_server: Callable[..., ServerProcess]) -> tuple[ServerProcess, ServerProcess]:
    """Two servers on one database; rate limits off, since one address makes every request."""
    settings = {"USERAUTH_RATELIMIT_ENABLED": "false", "USERAUTH_SESSION_CACHE": "on"}
    return start_server(SERVE, **settings), start_server(SERVE, **settings)


def seconds_until_refused(url: str, session_id: str) -> float:
    """Return how long the server kept accepting the session (math.inf past WITHIN * 3)."""
    started = time.monotonic()
    while profile_status(url, session_id) != 403:
        if time.monotonic() - started > WITHIN * 3:
            return float("inf")
        time.sleep(0.01)
    return time.monotonic() - started


def refusal_delays(
    servers: tuple[ServerProcess, ServerProcess],
    end: Callable[[str, str], None],
    label: str,
    repeats: int = REPEATS,
) -> list[float]:
    """End a fresh session `repeats` times with `end(email, session_id)`; return the delays."""
    first, second = servers
    delays = []
    for attempt in range(repeats):
        email = f"{label}-{attempt}@example.com"
        register(first.url, email)
        session_id = log_in(first.url, email)
        warm = [profile_status(second.url, session_id) for _ in range(WARM_CHECKS)]
        assert warm == [200] * WARM_CHECKS

        end(email, session_id)

        delays.append(seconds_until_refused(second.url, session_id))
    return delays


class TestRefusedEverywhereWithinASecond:
    def test_every_kind_of_ending_through_one_server_is_refused_by_the_other(
        self,
        servers: tuple[ServerProcess, ServerProcess],
        make_auth: Callable[..., Auth],
        database_url: str,
    ) -> None:
        # One pair of servers for every kind: starting and stopping servers is what costs.
        url = servers[0].url
        admin = Admin(make_auth())
        env = {**os.environ, "DATABASE_URL": database_url}

        def through_http(ending: Ending) -> Callable[[str, str], None]:
            return lambda email, session_id: ending(url, email, session_id)

        def disable(email: str, _session_id: str) -> None:
            admin.disable_user(email)

        def revoke_with_the_cli(email: str, _session_id: str) -> None:
            command = [sys.executable, "-m", "userauth", "user", "revoke-sessions", email]
            subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)

        kinds = [(ending.__name__, through_http(ending), REPEATS) for ending in ENDINGS]
        kinds += [("admin_disable", disable, REPEATS), ("cli", revoke_with_the_cli, CLI_REPEATS)]
        delays = {
            label: refusal_delays(servers, end, label, repeats) for label, end, repeats in kinds
        }

        late = {label: seconds for label, seconds in delays.items() if max(seconds) >= WITHIN}
        assert not late, late
