"""Fixtures for the contract tests: built only from the four root modules, as a user would.

Every object here is made the contract's way (`DB()`, `Auth()`, `import app`), with
DATABASE_URL pointing at the test database (SQLite or PostgreSQL, see `use_database`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import auth
import db


def _release(session: Session) -> None:
    """Close a DB's session and dispose of its engine, so no connection outlives the test."""
    engine = session.get_bind()
    session.close()
    engine.dispose()  # type: ignore[union-attr]


@pytest.fixture
def make_db(use_database: str) -> Iterator[Callable[[], db.DB]]:
    """Build `db.DB()` objects (no arguments) on the test database."""
    made: list[db.DB] = []

    def build() -> db.DB:
        store = db.DB()
        made.append(store)
        return store

    yield build
    for store in made:
        _release(store._session)


@pytest.fixture
def make_contract_auth(use_database: str) -> Iterator[Callable[[], auth.Auth]]:
    """Build `auth.Auth()` objects (no arguments) on the test database."""
    made: list[auth.Auth] = []

    def build() -> auth.Auth:
        service = auth.Auth()
        made.append(service)
        return service

    yield build
    for service in made:
        _release(service._db._session)


@pytest.fixture
def contract_auth(make_contract_auth: Callable[[], auth.Auth]) -> auth.Auth:
    return make_contract_auth()


@pytest.fixture
def contract_app(use_database: str) -> Iterator[Flask]:
    """The module-level `app.app`, with `app.AUTH` built on the test database.

    `import app` builds AUTH from the environment when it runs, so the module is imported,
    or reloaded, only once DATABASE_URL names the test database.
    """
    loaded = "app" in sys.modules
    import app

    if loaded:
        importlib.reload(app)
    yield app.app
    _release(app.AUTH._db._session)


@pytest.fixture
def contract_client(contract_app: Flask) -> FlaskClient:
    return contract_app.test_client()
