"""Peers: other libraries' minimal apps, each in its own virtual environment, seeded and served.

The apps live in bench/peers/ (one module each, written from the library's own docs); their
pinned requirements beside them. Each requirements file gets a virtual environment under
bench/.venvs/ (git-ignored), rebuilt only when the file's hash changes: the project's venv
never holds a peer's packages.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench.servers import Server, ServerLayout, free_port, granian_command, start_command

PEERS_DIR = Path(__file__).resolve().parent / "peers"
VENVS_DIR = Path(__file__).resolve().parent / ".venvs"
INSTALL_TIMEOUT_S = 900
SEED_TIMEOUT_S = 300


class PeerError(RuntimeError):
    """A peer's environment could not be built, or its seeding failed."""


# The setups the peers' own docs recommend; each peer's row says which (docs_setup).
# Flask's "Deploying to Production > Gunicorn": `gunicorn -w 4 'hello:create_app()'`, gunicorn's
# default (sync) workers, "a starting value could be CPU * 2".
GUNICORN_FLASK = "gunicorn-flask"
# Django's "How to use Django with Gunicorn": `gunicorn myproject.wsgi`; gunicorn's design
# docs: "(2 x $num_cores) + 1 as the number of workers to start off with".
GUNICORN_DJANGO = "gunicorn-django"
# FastAPI's "Server Workers": `uvicorn main:app --workers 4`, with uvicorn[standard].
UVICORN = "uvicorn"
# The same server, with the same flags, as userauth: bench.servers.granian_command.
GRANIAN = "granian"
DOCS = {
    GUNICORN_FLASK: "https://flask.palletsprojects.com/en/stable/deploying/gunicorn/",
    GUNICORN_DJANGO: "https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/gunicorn/"
    " and https://docs.gunicorn.org/en/stable/design.html#how-many-workers",
    UVICORN: "https://fastapi.tiangolo.com/deployment/server-workers/",
}


@dataclass(frozen=True)
class Peer:
    """One peer app: its module, its environment, how it is served and what its session means."""

    label: str
    module: str
    requirements: str
    semantics: str
    asgi: bool = False
    # FastAPI-Users' strategy (PEER_STRATEGY), for the app that serves either.
    strategy: str = ""
    # Its login as its docs define it: a form POST with these fields, or Flask-Security's
    # JSON login, which wants the CSRF token that GET /login hands out first.
    login_path: str = "/login"
    login_fields: tuple[str, str] = ("email", "password")
    login_csrf: bool = False
    # The setup its own docs recommend (the first row), and the doc that says so.
    docs_setup: str = GUNICORN_FLASK
    # What a session check costs it: whether it reads the database, and what.
    check_cost: str = "user row read (1 query)"

    @property
    def key(self) -> str:
        suffix = f"_{self.strategy}" if self.strategy else ""
        return self.module.removeprefix("peer_") + suffix

    @property
    def venv(self) -> Path:
        return VENVS_DIR / self.requirements.removeprefix("requirements-").removesuffix(".txt")


FLASK_LOGIN = Peer(
    "Flask-Login + Flask-SQLAlchemy",
    "peer_flask_login",
    "requirements-flask-login.txt",
    "signed cookie (user id), user read per request; not revocable",
)
FLASK_SECURITY = Peer(
    "Flask-Security",
    "peer_flask_security",
    "requirements-flask-security.txt",
    "signed cookie (fs_uniquifier), user read per request; revocable per user",
    login_csrf=True,
)
FASTAPI_USERS_DATABASE = Peer(
    "FastAPI-Users (database strategy)",
    "peer_fastapi_users",
    "requirements-fastapi-users.txt",
    "server-side token (AccessToken row), then user; revocable per session",
    asgi=True,
    strategy="database",
    login_path="/auth/login",
    login_fields=("username", "password"),
    docs_setup=UVICORN,
    check_cost="token row, then user row read (2 queries)",
)
FASTAPI_USERS_JWT = Peer(
    "FastAPI-Users (JWT strategy)",
    "peer_fastapi_users",
    "requirements-fastapi-users.txt",
    "signed token (JWT), user read per request; not revocable before expiry",
    asgi=True,
    strategy="jwt",
    login_path="/auth/login",
    login_fields=("username", "password"),
    docs_setup=UVICORN,
)
DJANGO = Peer(
    "Django (contrib.auth + contrib.sessions)",
    "peer_django",
    "requirements-django.txt",
    "server-side session (django_session row), then user; revocable per session and per user",
    docs_setup=GUNICORN_DJANGO,
    check_cost="session row, then user row read (2 queries)",
)
ALL_PEERS = (FLASK_LOGIN, FLASK_SECURITY, FASTAPI_USERS_DATABASE, DJANGO, FASTAPI_USERS_JWT)
# Quick runs leave out the optional JWT row.
QUICK_PEERS = ALL_PEERS[:4]


def ensure_venv(peer: Peer, log_path: Path) -> Path:
    """Return the bin/ of the peer's virtual environment, building it when its pins changed.

    Raises:
        PeerError: venv or pip failed; the log at `log_path` says why.
    """
    requirements = PEERS_DIR / peer.requirements
    stamp = peer.venv / "requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return peer.venv / "bin"
    shutil.rmtree(peer.venv, ignore_errors=True)
    python = peer.venv / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(peer.venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--requirement", str(requirements)],
    ]
    with log_path.open("ab") as log:
        for step in steps:
            done = subprocess.run(
                step, stdout=log, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S
            )
            if done.returncode != 0:
                raise PeerError(f"{peer.label}: `{' '.join(step)}` failed, see {log_path}")
    stamp.write_text(wanted)
    return peer.venv / "bin"


@dataclass(frozen=True)
class PeerDatabase:
    """Where one peer's tables live on one backend."""

    url: str
    schema: str | None


def peer_database(peer: Peer, backend_url: str, workdir: Path) -> PeerDatabase:
    """Place the peer on the backend: its own SQLite file, or its own PostgreSQL schema.

    Each peer keeps the table names its docs give ("user", "role", "accesstoken"), so peers
    cannot share a schema with each other or with userauth.
    """
    url = make_url(backend_url)
    if url.get_backend_name() == "sqlite":
        driver = "sqlite+aiosqlite" if peer.asgi else "sqlite"
        return PeerDatabase(f"{driver}:///{workdir / f'peer-{peer.key}.db'}", None)
    driver = "postgresql+asyncpg" if peer.asgi else "postgresql+psycopg"
    rendered = url.set(drivername=driver).render_as_string(hide_password=False)
    return PeerDatabase(rendered, f"peer_{peer.key}")


def _recreate_schema(backend_url: str, schema: str) -> None:
    plain = make_url(backend_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as db:
        name = sql.Identifier(schema)
        db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
        db.execute(sql.SQL("CREATE SCHEMA {}").format(name))


def peer_env(
    peer: Peer, database: PeerDatabase, base: Mapping[str, str], password: str
) -> dict[str, str]:
    """The peer's environment: the benchmark's, its database, its strategy and the password."""
    env = {key: value for key, value in base.items() if not key.startswith("PEER_")}
    env.update(DATABASE_URL=database.url, BENCH_PASSWORD=password)
    if peer.strategy:
        env["PEER_STRATEGY"] = peer.strategy
    if database.schema:
        env["PEER_SCHEMA"] = database.schema
    return env


def seed_peer(
    peer: Peer,
    backend_url: str,
    env: Mapping[str, str],
    users: int,
    sessions: int,
    out: Path,
) -> list[tuple[str, str]]:
    """Empty the peer's tables, write `users` accounts and `sessions` live sessions.

    Returns `(Cookie header value, email)` per session, as also written to `out`.

    Raises:
        PeerError: the peer's seed command failed.
    """
    if env.get("PEER_SCHEMA"):
        _recreate_schema(backend_url, env["PEER_SCHEMA"])
    python = peer.venv / "bin" / "python"
    command = [str(python), f"{peer.module}.py", "seed", str(users), str(sessions), str(out)]
    done = subprocess.run(
        command,
        cwd=PEERS_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise PeerError(f"{peer.label}: seeding failed:\n{done.stderr[-3000:]}")
    lines = [line.split("\t") for line in out.read_text().splitlines() if line]
    return [(cookie, email) for cookie, email in lines]


def docs_layout(peer: Peer, layout: ServerLayout, cores: int) -> ServerLayout:
    """Return the workers and threads of the peer's docs setup on a machine of `cores`."""
    if peer.docs_setup == GUNICORN_FLASK:
        return ServerLayout(workers=2 * cores, threads=1)
    if peer.docs_setup == GUNICORN_DJANGO:
        return ServerLayout(workers=2 * cores + 1, threads=1)
    return ServerLayout(workers=layout.workers, threads=1)


def setup_label(peer: Peer, setup: str, layout: ServerLayout) -> str:
    """Say in a row how the peer was served: server, workers and threads."""
    if setup == GRANIAN:
        if peer.asgi:
            return f"granian ASGI, {layout.workers} workers (same flags as userauth)"
        return f"granian WSGI, {layout.workers} x {layout.threads} threads (as userauth)"
    if peer.docs_setup == UVICORN:
        return f"uvicorn, {layout.workers} workers (docs)"
    return f"gunicorn sync, {layout.workers} workers x 1 thread (docs)"


def start_peer(
    peer: Peer,
    setup: str,
    name: str,
    layout: ServerLayout,
    env: Mapping[str, str],
    workdir: Path,
) -> Server:
    """Serve the peer in its docs' setup (`setup` = its docs_setup) or under granian (GRANIAN).

    Under granian, with the flags userauth's server uses (WSGI, or ASGI for FastAPI-Users),
    `layout` is userauth's; in the docs' setup, `layout` is docs_layout's.
    """
    port = free_port()
    bin_dir = peer.venv / "bin"
    if setup == GRANIAN:
        command = granian_command(
            f"{peer.module}:app",
            port,
            layout,
            interface="asgi" if peer.asgi else "wsgi",
            bin_dir=bin_dir,
            extra=[f"--working-dir={PEERS_DIR}"],
        )
    elif peer.asgi:
        command = [
            str(bin_dir / "uvicorn"),
            f"{peer.module}:app",
            f"--app-dir={PEERS_DIR}",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--workers={layout.workers}",
        ]
    else:
        command = [
            str(bin_dir / "gunicorn"),
            f"--workers={layout.workers}",
            f"--bind=127.0.0.1:{port}",
            "--graceful-timeout=30",
            "--reuse-port",
            "--error-logfile=-",
            "--no-control-socket",
            f"--chdir={PEERS_DIR}",
            f"{peer.module}:app",
        ]
    clean = {key: value for key, value in env.items() if key != "VIRTUAL_ENV"}
    clean["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return start_command(name, command, port, clean, workdir, layout)


# The packages each peer's row is about, named with their pinned versions in the output.
HEADLINE_PACKAGES = (
    "Flask-Login",
    "Flask-SQLAlchemy",
    "Flask-Security",
    "fastapi-users",
    "fastapi",
    "uvicorn",
    "Django",
    "gunicorn",
    "granian",
)


def describe(peers: tuple[Peer, ...], workers: int) -> list[str]:
    """Say how the peers were served and which versions, for the benchmark's header."""
    if not peers:
        return []
    pins: dict[str, str] = {}
    for requirements in sorted({peer.requirements for peer in peers}):
        for line in (PEERS_DIR / requirements).read_text().splitlines():
            name, _, version = line.partition("==")
            if name in HEADLINE_PACKAGES:
                pins[name] = version
    versions = ", ".join(f"{name} {pins[name]}" for name in HEADLINE_PACKAGES if name in pins)
    docs = "; ".join(f"{setup}: {url}" for setup, url in DOCS.items())
    return [
        f"peers: {versions}; each on 1,000 accounts, bcrypt cost 12, served twice: in its "
        f"docs' setup ({docs}) and under granian with userauth's flags ({workers} workers)",
    ]


@dataclass(frozen=True)
class PeerRun:
    """A peer served on one backend in one setup: its server and seeded sessions (in a file)."""

    peer: Peer
    setup: str
    setup_label: str
    server: Server
    sessions: list[tuple[str, str]]
    sessions_file: str
