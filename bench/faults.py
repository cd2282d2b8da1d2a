"""Hostile and unlucky clients, over raw sockets: what a server must survive and how it answers.

Three probes, each run against a live server on loopback:
- `slow_clients`: idle connections plus clients trickling a request body, while a prober
  measures `GET /healthz` (the server must keep answering, p99 under a bound);
- `malformed`: broken request lines and over-long headers (a 4xx JSON answer, a 4xx without a
  body, or a closed connection; never an HTML page);
- `drain`: requests fully sent, then SIGTERM: each gets its whole answer, then the process ends.

Used by `bench.servers_compare` and by the tests of `userauth serve`.
"""

from __future__ import annotations

import contextlib
import http.client
import resource
import select
import socket
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# A body longer than a trickle sends in the window (so no trickled request ends), yet under the
# 64 KiB userauth accepts (so the server has to wait for it rather than refuse it at once).
TRICKLE_BODY_BYTES = 1_000
PROBE_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0


@dataclass
class SlowClientsResult:
    """What the prober saw while idle and trickling clients held connections; times in ms."""

    idle_opened: int
    trickling: int
    probes: int
    failures: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Why probes failed: "timeout", "status 503", an exception's name; at most one of each.
    failure_kinds: list[str] = field(default_factory=list)

    def passed(self, p99_limit_ms: float) -> bool:
        return self.probes > 0 and self.failures == 0 and self.p99_ms < p99_limit_ms


def raise_open_file_limit(needed: int) -> None:
    """Raise this process's soft limit of open files to at least `needed` (up to the hard one).

    Raises:
        OSError: the hard limit is lower than `needed`.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OSError(f"the open-file limit is {hard}; {needed} are needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def slow_clients(
    host: str,
    port: int,
    *,
    idle: int = 1000,
    trickling: int = 50,
    seconds: float = 10.0,
    probe_interval_s: float = 0.1,
    trickle_path: str = "/users",
) -> SlowClientsResult:
    """Hold `idle` silent connections and `trickling` byte-a-time bodies; probe `/healthz`.

    The trickling clients send a POST's head at once, then one byte of its body every 0.2 s
    (about 50 bytes in 10 s of a 100 kB body), the way a slowloris-style client or a
    phone on a bad network does. The prober opens a new connection for every `/healthz`.
    """
    raise_open_file_limit(idle + trickling + 256)
    stop = threading.Event()
    sockets: list[socket.socket] = []
    try:
        sockets.extend(_open_idle(host, port, idle))
        idle_opened = len(sockets)
        tricklers = _open_tricklers(host, port, trickling, trickle_path)
        sockets.extend(tricklers)
        feeder = threading.Thread(target=_trickle, args=(tricklers, stop), daemon=True)
        feeder.start()
        time.sleep(0.5)  # the server has seen every connection before the probing starts
        latencies, failure_kinds = _probe(host, port, seconds - 0.5, probe_interval_s)
        stop.set()
        feeder.join()
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
    ordered = sorted(latencies) or [float("inf")]
    return SlowClientsResult(
        idle_opened=idle_opened,
        trickling=len(tricklers),
        probes=len(latencies) + len(failure_kinds),
        failures=len(failure_kinds),
        p50_ms=statistics.median(ordered),
        p99_ms=_percentile(ordered, 99),
        max_ms=ordered[-1],
        failure_kinds=sorted(set(failure_kinds)),
    )


def _open_idle(host: str, port: int, count: int) -> list[socket.socket]:
    opened = []
    for _ in range(count):
        try:
            opened.append(socket.create_connection((host, port), timeout=2))
        except OSError:
            break  # the server's backlog is full: what is open stays open
    return opened


def _open_tricklers(host: str, port: int, count: int, path: str) -> list[socket.socket]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {TRICKLE_BODY_BYTES}\r\n\r\n"
    ).encode()
    opened = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=2)
        sock.sendall(head)
        opened.append(sock)
    return opened


def _trickle(sockets: Sequence[socket.socket], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        for sock in sockets:
            # A server may give up on a client this slow: that is its right.
            with contextlib.suppress(OSError):
                sock.send(b"e")


def _probe(host: str, port: int, seconds: float, interval: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures.append(f"status {response.status}")
        except OSError as error:
            failures.append(type(error).__name__)
        finally:
            connection.close()
        time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return latencies, failures


def _percentile(ordered: Sequence[float], percent: float) -> float:
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


# Each case: a name and the raw bytes a broken or hostile client sends.
MALFORMED_REQUESTS: list[tuple[str, bytes]] = [
    ("garbage request line", b"GARBAGE\r\n\r\n"),
    ("request line with spaces", b"GET / / / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("control byte in the target", b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("header without a colon", b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
    ("header of 9 KiB", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9216 + b"\r\n\r\n"),
    ("header of 64 KiB", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"),
    (
        "1,000 headers",
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(1000))
        + b"\r\n",
    ),
    ("request line of 64 KiB", b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@dataclass
class MalformedAnswer:
    """How the server answered one malformed request."""

    case: str
    status: int | None  # None: the connection closed without an answer
    content_type: str
    body: bytes

    @property
    def acceptable(self) -> bool:
        """A 4xx in JSON or without a body, or a closed connection; never HTML, never 5xx."""
        if self.status is None:
            return True
        if not 400 <= self.status < 500:
            return False
        return not self.body.strip() or self.content_type.startswith("application/json")

    def describe(self) -> str:
        if self.status is None:
            return f"{self.case}: closed"
        kind = self.content_type or "no content type"
        return f"{self.case}: {self.status} {kind} {self.body[:60]!r}"


def malformed(host: str, port: int) -> list[MalformedAnswer]:
    """Send each of MALFORMED_REQUESTS on its own connection and read what comes back."""
    return [_send_raw(host, port, case, raw) for case, raw in MALFORMED_REQUESTS]


def _send_raw(host: str, port: int, case: str, raw: bytes) -> MalformedAnswer:
    with socket.create_connection((host, port), timeout=READ_TIMEOUT_S) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed while we were still sending: read what it said first, if anything
        received = _read_until_closed(sock)
    if not received:
        return MalformedAnswer(case, None, "", b"")
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    content_type = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            content_type = value.strip().lower()
    if status is None:
        return MalformedAnswer(case, 0, content_type, received)  # not even HTTP: unacceptable
    return MalformedAnswer(case, status, content_type, body)


def _read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


@dataclass
class DrainResult:
    """What became of requests sent in full before SIGTERM."""

    statuses: list[int | None] = field(default_factory=list)  # None: reset or cut short
    exit_status: int | None = None
    # How many answers had begun to arrive before the signal (0: all were in flight).
    answered_before_signal: int = 0

    @property
    def passed(self) -> bool:
        return (
            bool(self.statuses)
            and all(s == 200 for s in self.statuses)
            and (self.exit_status == 0)
        )


def drain(
    host: str,
    port: int,
    requests: Sequence[bytes],
    terminate: Callable[[], None],
    wait_exit: Callable[[], int | None],
    head_start_s: float = 0.2,
) -> DrainResult:
    """Send every request whole, `terminate()` the server, then read every answer.

    `requests` are raw HTTP/1.1 requests (each with `Connection: close`); `wait_exit` waits for
    the server process and returns its exit status (None when it did not exit).
    """
    sockets = [socket.create_connection((host, port), timeout=60) for _ in requests]
    try:
        for sock, raw in zip(sockets, requests, strict=True):
            sock.sendall(raw)
        time.sleep(head_start_s)  # every request is read and being worked on
        readable, _, _ = select.select(sockets, [], [], 0)
        terminate()
        statuses = [_status_of(_read_until_closed(sock)) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    return DrainResult(
        statuses=statuses, exit_status=wait_exit(), answered_before_signal=len(readable)
    )


def _status_of(received: bytes) -> int | None:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return None
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (
            int(v)
            for n, _, v in (x.partition(":") for x in lines[1:])
            if n.lower() == "content-length"
        ),
        None,
    )
    if length is not None and len(body) < length:
        return None  # cut short
    parts = lines[0].split(" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def login_request(
    host: str, port: int, email: str, password: str, forwarded_for: str = ""
) -> bytes:
    """Return a raw `POST /sessions` that closes its connection after the answer.

    `forwarded_for`, sent as X-Forwarded-For, spreads the logins over client addresses (for a
    server that trusts one proxy), so no per-address rate limit is in the way.
    """
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    forwarded = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
    return (
        f"POST /sessions HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{forwarded}"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
