"""Records never show a secret: every dataclass of the package keeps its password hashes,
digests, tokens, keys and connection URLs out of `repr`, and so out of logs, tracebacks and
debuggers (OWASP ASVS 4.0.3 V7.1.1: no credentials in logs)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from collections.abc import Callable

import pytest

import userauth
from userauth.auth import Auth
from userauth.credentials import LoginResult
from userauth.db.sessions import LiveSession
from userauth.models import AuditEvent, DeviceSession, NewSession, User
from userauth.settings import Settings

EMAIL = "bob@example.com"
PASSWORD = "violet-kettle-orbit-42"
# A field whose name ends so holds a secret, or something that leads to one (a session
# id's digest, a URL that may carry a password); `reset_token_lifetime` is only a duration.
SECRET_NAME = re.compile(r"(password|hash|digest|token|secret|key|session_id|newest_session|url)$")
# Fields whose name matches and that hold nothing secret.
NOT_SECRET = {
    "GateSettings.login_url",  # the login page's address: a public link
}


def record_types() -> list[type]:
    """Return every dataclass defined in the userauth package."""
    found: list[type] = []
    for module in pkgutil.walk_packages(userauth.__path__, "userauth."):
        # Alembic's scripts run only under Alembic; __main__ runs the command line.
        if module.name.startswith("userauth.migrations.") or module.name.endswith("__main__"):
            continue
        namespace = vars(importlib.import_module(module.name))
        found += [
            kind
            for kind in namespace.values()
            if isinstance(kind, type)
            and dataclasses.is_dataclass(kind)
            and kind.__module__ == module.name
        ]
    return sorted(set(found), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")


RECORD_TYPES = record_types()


def secret_fields(kind: type) -> list[str]:
    return [
        field.name
        for field in dataclasses.fields(kind)
        if SECRET_NAME.search(field.name) and f"{kind.__qualname__}.{field.name}" not in NOT_SECRET
    ]


def name_of(kind: type) -> str:
    return f"{kind.__module__.removeprefix('userauth.')}.{kind.__qualname__}"


class TestEveryRecordHidesItsSecrets:
    def test_the_records_of_the_store_and_the_session_check_are_among_those_checked(
        self,
    ) -> None:
        expected = {User, DeviceSession, NewSession, AuditEvent, LiveSession, LoginResult}
        assert expected <= set(RECORD_TYPES)
        assert Settings in RECORD_TYPES

    @pytest.mark.parametrize("kind", RECORD_TYPES, ids=name_of)
    def test_no_secret_field_shows_in_repr(self, kind: type) -> None:
        # Every field gets a value of its own, so a value in the repr names its field.
        values = {field.name: f"<value of {field.name}>" for field in dataclasses.fields(kind)}
        shown = repr(kind(**values))

        assert [name for name in secret_fields(kind) if values[name] in shown] == []


class TestLiveSession:
    def test_its_repr_shows_neither_the_password_hash_nor_the_newest_session(
        self, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        auth.register_user(EMAIL, PASSWORD)
        session_id = auth.create_session(EMAIL)
        live = auth.resolve_session(session_id)
        assert live is not None
        assert live.hashed_password.startswith(b"$2")
        assert live.newest_session is not None

        shown = repr(live)

        assert live.hashed_password.decode() not in shown
        assert str(live.hashed_password) not in shown
        assert live.newest_session not in shown
        assert EMAIL in shown  # the rest of the record is still there to read
