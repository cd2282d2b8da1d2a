"""Server processes under test: start, wait until ready, read their workers' peak RSS, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 60.0
# The server's graceful timeout is 30 s; a stop waits a little longer before killing.
STOP_TIMEOUT_S = 40.0


class ServerError(RuntimeError):
    """A server did not start, or its workers changed under load."""


@dataclass
class ServerLayout:
    """What every compared server shares: worker processes and threads per worker."""

    workers: int
    threads: int


@dataclass
class Server:
    """A running server's main process (ours to stop) and the workers it forked."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    workers: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        """Return the pids of the master's children that serve requests (its workers).

        uvicorn's master also starts multiprocessing's resource tracker, which serves none.
        """
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            helper = b"multiprocessing.resource_tracker" in command
            if f"\nPPid:\t{self.process.pid}\n" in status and not helper:
                pids.add(int(entry.name))
        return pids

    def peak_rss_mb(self) -> float:
        """Return the largest VmHWM (peak resident set) among the workers, in MB.

        Raises:
            ServerError: a worker was replaced, so its peak is lost (it crashed or timed out).
        """
        current = self.worker_pids()
        if current != self.workers:
            raise ServerError(f"{self.name}: workers changed from {self.workers} to {current}")
        peaks = [_vm_hwm_kb(pid) for pid in current]
        return max(peaks) / 1024

    def cores(self) -> int:
        """Return how many CPUs the server may run on."""
        return len(os.sched_getaffinity(self.process.pid))

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then kill the process group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_userauth(
    name: str, layout: ServerLayout, env: Mapping[str, str], workdir: Path
) -> Server:
    """Start `userauth serve` on loopback with the given environment."""
    port = free_port()
    command = [
        str(VENV_BIN / "userauth"),
        "serve",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={layout.workers}",
        f"--threads={layout.threads}",
    ]
    return start_command(name, command, port, env, workdir, layout)


def granian_command(
    target: str,
    port: int,
    layout: ServerLayout,
    *,
    interface: str = "wsgi",
    bin_dir: Path = VENV_BIN,
    extra: Sequence[str] = (),
) -> list[str]:
    """Return the command serving `target` under granian as userauth/server.py configures it.

    HTTP/1.1 with an 8 KiB request head, `workers` processes with `threads` blocking
    threads (WSGI) and 4,096 connections each, 30 s to stop gracefully: the settings every
    same-server row of the benchmark shares (the baselines, and the peers' second rows).
    """
    return [
        str(bin_dir / "granian"),
        f"--interface={interface}",
        "--http=1",
        "--http1-buffer-size=8192",
        f"--workers={layout.workers}",
        # granian runs an ASGI app on its event loop: blocking threads are WSGI's alone.
        *([f"--blocking-threads={layout.threads}"] if interface == "wsgi" else []),
        "--backlog=2048",
        "--backpressure=4096",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers-kill-timeout=30",
        "--no-ws",
        *extra,
        target,
    ]


def start_bare(name: str, layout: ServerLayout, env: Mapping[str, str], workdir: Path) -> Server:
    """Start baseline (a), bench/bare.py, under the same server and settings as userauth serve."""
    port = free_port()
    command = granian_command("bench.bare:app", port, layout)
    return start_command(name, command, port, env, workdir, layout)


def start_bare_wsgi(
    name: str, layout: ServerLayout, env: Mapping[str, str], workdir: Path
) -> Server:
    """Start baseline (w), bench/bare_wsgi.py (no Flask), under the same server and settings."""
    port = free_port()
    command = granian_command("bench.bare_wsgi:app", port, layout)
    return start_command(name, command, port, env, workdir, layout)


def start_command(
    name: str,
    command: list[str],
    port: int,
    env: Mapping[str, str],
    workdir: Path,
    layout: ServerLayout,
) -> Server:
    """Run `command` (a server listening on `port`) and wait until its workers answer `GET /`.

    Raises:
        ServerError: it exited, or was not ready with `layout.workers` workers in time.
    """
    log_path = workdir / f"{name.replace(' ', '-')}.log"
    drop_cached_shared_objects(Path(command[0]))
    with log_path.open("wb") as log:
        # A session of its own: a Ctrl-C on the terminal reaches the benchmark, which stops
        # the servers in order, rather than every process at once.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name=name, process=process, port=port, log_path=log_path)
    try:
        _wait_ready(server, layout.workers)
    except BaseException:
        server.stop()
        raise
    return server


def drop_cached_shared_objects(executable: Path) -> None:
    """Drop the cached pages of the shared objects a server started by `executable` maps.

    Its virtual environment's extension modules and libraries (`executable` is in its
    bin/), and the interpreter's own (libpython, lib-dynload). Seen on Linux 6.18 with ext4:
    a library pip has just written stays cached in large folios, and a process that maps
    it gets whole folios mapped, so each worker's RSS counted about 7 MB more of granian's
    library (shared, clean pages; the same private memory, USS) than once that cache was
    dropped, as after a reboot. Dropped first (POSIX_FADV_DONTNEED, which leaves the pages
    a running process maps), every server's peak RSS is measured from that state, whatever
    wrote the cache.
    """
    venv = executable.parent.parent
    packages = venv / "lib" if (venv / "pyvenv.cfg").exists() else sysconfig.get_paths()["platlib"]
    libpython = Path(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY"))
    paths = [
        *Path(packages).rglob("*.so*"),
        *Path(sysconfig.get_config_var("DESTSHARED")).glob("*.so"),
        libpython,
    ]
    for path in paths:
        if path.is_file():
            _drop_cached_pages(path)


def _drop_cached_pages(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        # Written first: a page still dirty (a file pip has just written) is not dropped.
        os.fdatasync(descriptor)
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass  # a file system without either: its pages stay as they are
    finally:
        os.close(descriptor)


def _wait_ready(server: Server, workers: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"{server.name} exited at start:\n{server.log_tail()}")
        try:
            # S310: our own server's URL, on loopback, always http.
            with urllib.request.urlopen(server.url + "/", timeout=5) as response:  # noqa: S310
                ready = response.status == 200
        except (urllib.error.URLError, OSError):
            ready = False
        pids = server.worker_pids()
        if ready and len(pids) == workers:
            server.workers = pids
            return
        time.sleep(0.2)
    raise ServerError(f"{server.name} not ready in {READY_TIMEOUT_S:.0f} s:\n{server.log_tail()}")


def _vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise ServerError(f"no VmHWM for pid {pid}")
