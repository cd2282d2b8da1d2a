"""The README's "Use it from your app" recipe, run as written: its Node app asks the gate of a
real `userauth serve` on every request (issue 22, item 8)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ServerProcess, free_port
from tests.proxy_servers import need_binary, readme_snippet

EMAIL = "ann@example.com"
PASSWORD = "ann's password"
TIMEOUT = 10

# The recipe talks HTTP to the gate: one database is enough to show it works as written.
pytestmark = [pytest.mark.slow, pytest.mark.databases("sqlite")]


@pytest.fixture
def recipe(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> Iterator[tuple[ServerProcess, str]]:
    """Start userauth and the README's Node app in front of nothing; yield both."""
    userauth = start_server()
    app = tmp_path / "app.js"
    app.write_text(readme_snippet("js"))
    port = free_port()
    env = {"USERAUTH_URL": userauth.url, "PORT": str(port), "PATH": "/usr/bin:/bin"}
    node = subprocess.Popen([need_binary("node"), str(app)], env=env, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_answering(url, node)
        yield userauth, url
    finally:
        node.terminate()
        node.wait(timeout=10)


def _wait_until_answering(url: str, node: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert node.poll() is None, "the README's Node app exited"
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the README's Node app never answered")


class TestNodeRecipe:
    def test_a_browser_without_a_session_is_asked_to_log_in(
        self, recipe: tuple[ServerProcess, str]
    ) -> None:
        _, url = recipe
        answer = requests.get(url, timeout=TIMEOUT)
        assert (answer.status_code, answer.text) == (401, "please log in\n")

    def test_a_logged_in_browser_is_greeted_by_its_user_id(
        self, recipe: tuple[ServerProcess, str]
    ) -> None:
        userauth, url = recipe
        account = {"email": EMAIL, "password": PASSWORD}
        requests.post(f"{userauth.url}/users", data=account, timeout=TIMEOUT)
        browser = requests.Session()
        assert browser.post(f"{userauth.url}/sessions", data=account, timeout=TIMEOUT).ok
        user_id = browser.get(f"{userauth.url}/auth/verify", timeout=TIMEOUT).json()["id"]

        answer = browser.get(url, timeout=TIMEOUT)

        assert (answer.status_code, answer.text) == (200, f"hello user {user_id}\n")

    def test_a_userauth_that_does_not_answer_fails_closed(
        self, recipe: tuple[ServerProcess, str]
    ) -> None:
        userauth, url = recipe
        userauth.stop()
        answer = requests.get(url, headers={"Cookie": "session_id=anything"}, timeout=TIMEOUT)
        assert answer.status_code == 503
