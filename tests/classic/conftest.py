"""Fixtures for the design's tests: only the four root modules, in a fresh folder each.

Every test runs in its own empty working directory (the autouse fixture of tests/conftest.py),
so the design's `DB()` makes and empties `a.db` there, as a program of the design would.
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import bcrypt
import pytest
from flask.testing import FlaskClient

import auth
import db

ROOT = Path(__file__).resolve().parent.parent.parent
GENSALT = bcrypt.gensalt


@pytest.fixture(autouse=True)
def _cheap_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash at bcrypt's lowest cost: the design's default (12) only slows the suite down."""
    monkeypatch.setattr(bcrypt, "gensalt", functools.partial(GENSALT, rounds=4))


def release(store: db.DB) -> None:
    """Close a DB's session and engine, so no connection outlives the test."""
    store._session.close()
    store._engine.dispose()


@pytest.fixture
def make_db() -> Iterator[Callable[[], db.DB]]:
    """Build `db.DB()` objects, as the design's programs do."""
    made: list[db.DB] = []

    def build() -> db.DB:
        made.append(db.DB())
        return made[-1]

    yield build
    for store in made:
        release(store)


@pytest.fixture
def make_auth() -> Iterator[Callable[[], auth.Auth]]:
    """Build `auth.Auth()` objects, as the design's programs do."""
    made: list[auth.Auth] = []

    def build() -> auth.Auth:
        made.append(auth.Auth())
        return made[-1]

    yield build
    for service in made:
        release(service._db)


@pytest.fixture
def design_app() -> Iterator[ModuleType]:
    """The `app` module, imported anew in this test's folder (its AUTH empties a.db there)."""
    if "app" in sys.modules:
        module = importlib.reload(sys.modules["app"])
    else:
        module = importlib.import_module("app")
    yield module
    release(module.AUTH._db)


@pytest.fixture
def client(design_app: ModuleType) -> FlaskClient:
    """A test client of the design's `app.app`."""
    flask_app = design_app.app
    return flask_app.test_client()  # type: ignore[no-any-return]


def run_program(source: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a program of the design (a main file) with python3 in `cwd`, as its author would."""
    program = cwd / "main.py"
    program.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(program)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
