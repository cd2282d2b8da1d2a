"""Real reverse proxies for the gate's tests: Debian's nginx and Caddy, and a tiny upstream.

Each proxy runs as its own process on a free loopback port, from the README's own snippets
(taken from README.md, so the text people copy is the text tested), in front of `upstream`,
which answers every request with the headers it received, so a test sees what reached the app.
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

import pytest

from tests.conftest import IN_CI, free_port


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


README = Path(__file__).resolve().parent.parent / "README.md"
# The addresses the README's snippets are written for, and the site they serve.
README_USERAUTH = "127.0.0.1:5000"
README_APP = "127.0.0.1:8080"
README_SITE = "app.example.com"

# What runs the README's nginx snippet as a program of its own: the http block that
# /etc/nginx/nginx.conf would hold, with every file in the test's scratch folder.
NGINX_MAIN = """worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    include {run}/app.conf;
}
"""
# Caddy's global options for a test: no admin endpoint, no certificates, state kept here.
CADDY_GLOBAL = """{
	admin off
	auto_https off
	storage file_system {run}/caddy
}
"""


def readme_snippet(language: str) -> str:
    """Return the README's fenced code block of this language (the first one)."""
    text = README.read_text()
    opening = f"```{language}\n"
    start = text.index(opening) + len(opening)
    return text[start : text.index("```", start)]


def localize(snippet: str, *, site: str, userauth_port: int, upstream_port: int) -> str:
    """Point a README snippet at the test's loopback ports, changing nothing else."""
    for written, actual in (
        (README_USERAUTH, f"127.0.0.1:{userauth_port}"),
        (README_APP, f"127.0.0.1:{upstream_port}"),
    ):
        assert written in snippet, f"the README's snippet no longer mentions {written}"
        snippet = snippet.replace(written, actual)
    return snippet.replace(README_SITE, site, 1)


def start_nginx(workdir: Path, userauth_port: int, upstream_port: int) -> ProxyProcess:
    """Start nginx with the README's snippet as /etc/nginx/conf.d/app.conf, on a free port."""
    port = free_port()
    snippet = localize(
        readme_snippet("nginx"), site=README_SITE, userauth_port=userauth_port,
        upstream_port=upstream_port,
    )  # fmt: skip
    assert "listen 80;" in snippet
    (workdir / "app.conf").write_text(snippet.replace("listen 80;", f"listen 127.0.0.1:{port};"))
    main = workdir / "nginx.conf"
    main.write_text(NGINX_MAIN.replace("{run}", str(workdir)))
    command = [need_binary("nginx"), "-p", str(workdir), "-c", str(main)]
    return ProxyProcess([*command, "-e", str(workdir / "error.log")], port, workdir)


def start_caddy(workdir: Path, userauth_port: int, upstream_port: int) -> ProxyProcess:
    """Start Caddy with the README's site block, served over plain HTTP on a free port."""
    port = free_port()
    site = localize(
        readme_snippet("caddyfile"), site=f"http://127.0.0.1:{port}",
        userauth_port=userauth_port, upstream_port=upstream_port,
    )  # fmt: skip
    config = workdir / "Caddyfile"
    config.write_text(CADDY_GLOBAL.replace("{run}", str(workdir)) + "\n" + site)
    command = [need_binary("caddy"), "run", "--config", str(config), "--adapter", "caddyfile"]
    return ProxyProcess(command, port, workdir)
