"""Revision 0011 (the OpenID Connect provider) adds its tables
and keeps every account, session and reset of revision 0010, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, inspect

from tests.conftest import FakeClock
from tests.test_migrations import ORIGINAL_USERS, count_rows, insert_at_0002
from userauth import migrations
from userauth.auth import Auth

OIDC_TABLES = {
    "oidc_clients",
    "oidc_subjects",
    "oidc_codes",
    "oidc_tokens",
    "oidc_consents",
    "oidc_keys",
}


@pytest.fixture
def bobs(database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
    """A database made at 0002, brought to 0010 (before the provider), then to the head."""
    migrations.upgrade(database_url, "0002")
    secrets = insert_at_0002(engine, clock())
    migrations.upgrade(database_url, "0010")
    migrations.upgrade(database_url)
    return secrets


class TestUpgradeToTheProvider:
    def test_every_account_still_logs_in_and_its_session_stays_live(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        for email, password in ORIGINAL_USERS[1:]:
            assert auth.valid_login(email, password)
        assert auth.require_session(bobs["session_id"]).email == ORIGINAL_USERS[1][0]

    def test_the_provider_works_on_the_upgraded_database(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], engine: Engine
    ) -> None:
        auth = make_auth()
        added = auth.oidc.clients.add("Gitea", ["https://git.example.com/callback"])
        assert auth.oidc.clients.find(added.client_id) is not None
        assert len(auth.oidc.keys.jwks()["keys"]) == 2
        assert set(inspect(engine).get_table_names()) >= OIDC_TABLES

    def test_a_downgrade_drops_only_the_providers_tables(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0010")
        assert not OIDC_TABLES & set(inspect(engine).get_table_names())
        assert count_rows(engine, "users") == len(ORIGINAL_USERS) - 1
        assert count_rows(engine, "sessions") == 1
