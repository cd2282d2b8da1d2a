"""Real reverse proxies for the gate's tests: Debian's nginx and Caddy, and a tiny upstream.

Each proxy runs as its own process on a free loopback port, from the configuration files in
tests/proxies/ (the same ones the README shows), in front of `Upstream`, which answers every
request with the headers it received, so a test sees exactly what reached the app.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import IN_CI, free_port

CONFIGS = Path(__file__).resolve().parent / "proxies"


def need_binary(name: str) -> str:
    """Return the path of a program a test needs: skip locally without it, fail in CI."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path:
        return path
    reason = f"{name} is not installed (apt-get install {name}; .ci/run installs it)"
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class _EchoHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def upstream() -> Iterator[int]:
    """Run the app behind the proxy in a thread; yield its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class ProxyProcess:
    """A proxy started from a configuration template, stopped (and its output kept) after."""

    def __init__(self, command: list[str], port: int, workdir: Path) -> None:
        self.command, self.port, self.workdir = command, port, workdir
        self.url = f"http://127.0.0.1:{port}"
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            command, cwd=workdir, stdout=self._output, stderr=subprocess.STDOUT
        )
        self._wait_until_listening()

    def _wait_until_listening(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.command[0]} exited early:\n{self.stop()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.command[0]} did not listen within {timeout}s:\n{self.stop()}")

    def stop(self) -> str:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._output.seek(0)
        output = self._output.read().decode(errors="replace")
        self._output.close()
        return output


def render(template: str, **values: object) -> str:
    """Fill the {name} placeholders of a proxy configuration (its own braces stay)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def start_nginx(workdir: Path, userauth_port: int, upstream_port: int) -> ProxyProcess:
    """Start nginx from tests/proxies/nginx.conf on a free port."""
    config = _write_config(workdir, "nginx.conf", userauth_port, upstream_port)
    command = [need_binary("nginx"), "-p", str(workdir), "-c", str(config.path)]
    return ProxyProcess([*command, "-e", str(workdir / "error.log")], config.port, workdir)


def start_caddy(workdir: Path, userauth_port: int, upstream_port: int) -> ProxyProcess:
    """Start Caddy from tests/proxies/Caddyfile on a free port."""
    config = _write_config(workdir, "Caddyfile", userauth_port, upstream_port)
    command = [need_binary("caddy"), "run", "--config", str(config.path)]
    return ProxyProcess([*command, "--adapter", "caddyfile"], config.port, workdir)


class _Config(NamedTuple):
    path: Path
    port: int


def _write_config(workdir: Path, name: str, userauth_port: int, upstream_port: int) -> _Config:
    """Fill a configuration of tests/proxies/ with a free port and the other two ports."""
    port = free_port()
    text = render(
        (CONFIGS / name).read_text(),
        run=workdir,
        port=port,
        userauth=userauth_port,
        upstream=upstream_port,
    )
    path = workdir / name
    path.write_text(text)
    return _Config(path, port)
