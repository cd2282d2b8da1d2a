"""The service's server, started as its own process with `userauth serve`, driven over HTTP.

Covers SPEC.md B's end-to-end scenario in development, and C1: data is kept across restarts,
SQL echo is off unless asked for. The design's `python3 app.py` is tests/classic's.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable

import pytest
import requests

from tests.conftest import ServerProcess

StartServer = Callable[..., ServerProcess]

EMAIL = "guillaume@holberton.io"
PASSWD = "b4l0u"
NEW_PASSWD = "t4rt1fl3tt3"
TIMEOUT = 10
# What SQLAlchemy's echo prints: statements and transaction boundaries.
SQL_LINE = re.compile(r"\b(SELECT|INSERT INTO|UPDATE users|BEGIN \(implicit\)|COMMIT)\b")
# Python buffers a piped stdout; unbuffered, nothing printed is lost when the server stops.
UNBUFFERED = {"PYTHONUNBUFFERED": "1"}

pytestmark = pytest.mark.slow


def register_user(url: str, email: str, password: str) -> None:
    response = requests.post(
        f"{url}/users", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json() == {"email": email, "message": "user created"}


def log_in_wrong_password(url: str, email: str, password: str) -> None:
    response = requests.post(
        f"{url}/sessions", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 401


def profile_unlogged(url: str) -> None:
    response = requests.get(f"{url}/profile", timeout=TIMEOUT)
    assert response.status_code == 403


def log_in(url: str, email: str, password: str) -> str:
    response = requests.post(
        f"{url}/sessions", data={"email": email, "password": password}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json() == {"email": email, "message": "logged in"}
    session_id = response.cookies.get("session_id")
    assert session_id is not None
    return session_id


def profile_logged(url: str, session_id: str) -> None:
    response = requests.get(f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"email": EMAIL}


def log_out(url: str, session_id: str) -> None:
    response = requests.delete(
        f"{url}/sessions", cookies={"session_id": session_id}, timeout=TIMEOUT
    )
    assert [step.status_code for step in response.history] == [302]
    assert response.url == f"{url}/"
    assert response.status_code == 200
    assert response.json() == {"message": "Bienvenue"}


def reset_password_token(url: str, email: str) -> str:
    response = requests.post(f"{url}/reset_password", data={"email": email}, timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"email", "reset_token"}
    assert body["email"] == email
    token: str = body["reset_token"]
    assert str(uuid.UUID(token)) == token
    return token


def update_password(url: str, email: str, reset_token: str, new_password: str) -> None:
    response = requests.put(
        f"{url}/reset_password",
        data={"email": email, "reset_token": reset_token, "new_password": new_password},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.json() == {"email": email, "message": "Password updated"}


def run_contract_scenario(url: str) -> None:
    """Walk SPEC.md B's nine steps against a running server; each step asserts its answer."""
    register_user(url, EMAIL, PASSWD)
    log_in_wrong_password(url, EMAIL, NEW_PASSWD)
    profile_unlogged(url)
    session_id = log_in(url, EMAIL, PASSWD)
    profile_logged(url, session_id)
    log_out(url, session_id)
    reset_token = reset_password_token(url, EMAIL)
    update_password(url, EMAIL, reset_token, NEW_PASSWD)
    log_in(url, EMAIL, NEW_PASSWD)


class TestEndToEndScenario:
    def test_the_nine_steps_of_the_contract_pass(self, start_server: StartServer) -> None:
        run_contract_scenario(start_server().url)

    def test_the_logged_out_session_no_longer_gives_the_profile(
        self, start_server: StartServer
    ) -> None:
        url = start_server().url
        register_user(url, EMAIL, PASSWD)
        session_id = log_in(url, EMAIL, PASSWD)
        log_out(url, session_id)
        response = requests.get(
            f"{url}/profile", cookies={"session_id": session_id}, timeout=TIMEOUT
        )
        assert response.status_code == 403


def non_loopback_address() -> str | None:
    """Return this machine's outgoing IPv4 address, or None when it only has loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            # A UDP connect sends nothing: it only picks the interface a packet would use.
            probe.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


class TestAddress:
    def test_development_is_not_reachable_from_other_hosts_by_default(
        self, start_server: StartServer
    ) -> None:
        address = non_loopback_address()
        if address is None:
            pytest.skip("this machine has no non-loopback IPv4 address")
        server = start_server(USERAUTH_HOST="")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{address}:{server.port}/", timeout=TIMEOUT)

    def test_a_server_told_so_listens_on_every_interface(self, start_server: StartServer) -> None:
        address = non_loopback_address()
        if address is None:
            pytest.skip("this machine has no non-loopback IPv4 address")
        server = start_server(USERAUTH_HOST="0.0.0.0")  # noqa: S104 - what is tested
        response = requests.get(f"http://{address}:{server.port}/", timeout=TIMEOUT)
        assert response.json() == {"message": "Bienvenue"}


class TestDataIsKept:
    def test_a_user_registered_before_a_restart_logs_in_after_it(
        self, start_server: StartServer
    ) -> None:
        first = start_server()
        register_user(first.url, EMAIL, PASSWD)
        first.stop()
        second = start_server()
        log_in(second.url, EMAIL, PASSWD)

    def test_after_the_scenario_a_restart_keeps_the_user_and_the_session(
        self, start_server: StartServer
    ) -> None:
        first = start_server()
        run_contract_scenario(first.url)
        session_id = log_in(first.url, EMAIL, NEW_PASSWD)
        first.stop()
        second = start_server()
        profile_logged(second.url, session_id)
        log_in(second.url, EMAIL, NEW_PASSWD)

    def test_a_session_started_before_a_restart_is_still_valid(
        self, start_server: StartServer
    ) -> None:
        first = start_server()
        register_user(first.url, EMAIL, PASSWD)
        session_id = log_in(first.url, EMAIL, PASSWD)
        first.stop()
        profile_logged(start_server().url, session_id)


class TestSqlEcho:
    def test_the_server_prints_no_sql_by_default(self, start_server: StartServer) -> None:
        server = start_server(**UNBUFFERED)
        register_user(server.url, EMAIL, PASSWD)
        output = server.stop()
        # The request itself was logged: the output was captured, and holds no SQL.
        assert "/users" in output
        assert not SQL_LINE.search(output), output

    def test_the_server_prints_sql_when_echo_is_turned_on(self, start_server: StartServer) -> None:
        server = start_server(USERAUTH_SQL_ECHO="true", **UNBUFFERED)
        register_user(server.url, EMAIL, PASSWD)
        output = server.stop()
        assert "INSERT INTO users" in output
