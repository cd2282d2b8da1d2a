"""userauth.migrations and `userauth db`: earlier databases reach the head, losing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable

import bcrypt
import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from tests.conftest import ServerProcess, free_port
from userauth import migrations
from userauth.auth import Auth
from userauth.db import DB
from userauth.errors import EmailTakenError
from userauth.models import Base
from userauth.settings import Settings

# (email, password) of the users an original-design database holds; the first one's hash is
# stored as the original design stored it: bcrypt's bytes (a BLOB on SQLite, '\x..' on
# PostgreSQL); the others as text.
ORIGINAL_USERS = [
    ("alice@example.com", "alice password"),
    ("bob@example.com", "bob password"),
    ("carol@example.com", "carol password"),
]
Rows = list[tuple[int, str]]


def insert_original_user(
    engine: Engine, email: str, password: str, *, as_bytes: bool = False
) -> None:
    """Insert a user the way the original design did: clear session id and reset token."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, hashed_password, session_id, reset_token)"
                " VALUES (:email, :hashed, :session_id, :reset_token)"
            ),
            {
                "email": email,
                "hashed": hashed if as_bytes else hashed.decode(),
                "session_id": str(uuid.uuid4()),
                "reset_token": str(uuid.uuid4()),
            },
        )


@pytest.fixture
def original_database(database_url: str, engine: Engine) -> Rows:
    """A database at revision 0001 holding ORIGINAL_USERS; return its (id, email) rows."""
    migrations.upgrade(database_url, "0001")
    for index, (email, password) in enumerate(ORIGINAL_USERS):
        insert_original_user(engine, email, password, as_bytes=index == 0)
    return user_rows(engine)


def user_rows(engine: Engine) -> Rows:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, email FROM users ORDER BY id"))
        return [(row[0], row[1]) for row in rows]


def secrets_at_rest(engine: Engine) -> list[tuple[str | None, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT session_id, reset_token FROM users"))
        return [(row[0], row[1]) for row in rows]


class TestUpgradeFromTheOriginalDesign:
    def test_a_non_ascii_email_stays_one_case_insensitive_account(
        self, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url, "0001")
        insert_original_user(engine, "Ünal@example.com", "ünal password")
        migrations.upgrade(database_url)
        db = DB(database_url)
        try:
            auth = Auth(db=db, settings=Settings(database_url=database_url, bcrypt_rounds=4))
            assert auth.valid_login("Ünal@example.com", "ünal password")
            assert auth.valid_login("üNAL@example.com", "ünal password")
            with pytest.raises(EmailTakenError):
                auth.register_user("ünal@example.com", "another password")
        finally:
            db.close()

    def test_the_original_database_holds_a_hash_as_bytes(
        self, original_database: Rows, engine: Engine
    ) -> None:
        # The precondition the next tests rely on: one hash really is stored as bytes.
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT count(*) FROM users WHERE typeof(hashed_password) = 'blob'"
            else:
                query = "SELECT count(*) FROM users WHERE hashed_password NOT LIKE '$2%'"
            assert connection.execute(text(query)).scalar() == 1

    def test_every_user_can_log_in_after_the_upgrade(
        self, original_database: Rows, database_url: str, make_auth: Callable[..., Auth]
    ) -> None:
        migrations.upgrade(database_url)
        auth = make_auth()
        for email, password in ORIGINAL_USERS:
            assert auth.valid_login(email, password), email

    def test_no_row_is_lost(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        assert user_rows(engine) == original_database

    def test_hashes_are_stored_as_text(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        with engine.connect() as connection:
            hashes = connection.execute(text("SELECT hashed_password FROM users")).scalars()
            assert all(isinstance(value, str) and value.startswith("$2") for value in hashes)

    def test_clear_session_ids_and_reset_tokens_do_not_survive(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        assert set(secrets_at_rest(engine)) == {(None, None)}

    def test_the_database_is_at_the_head(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        assert migrations.current_revision(engine) == migrations.head_revision()
        assert migrations.is_up_to_date(engine)

    def test_an_email_in_another_letter_case_is_taken_afterwards(
        self, original_database: Rows, database_url: str, make_auth: Callable[..., Auth]
    ) -> None:
        migrations.upgrade(database_url)
        with pytest.raises(EmailTakenError):
            make_auth().register_user("ALICE@example.com", "another password")

    def test_the_users_table_keeps_the_five_columns(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        columns = [column["name"] for column in inspect(engine).get_columns("users")]
        assert columns == ["id", "email", "hashed_password", "session_id", "reset_token"]


class TestDuplicateEmails:
    def test_the_upgrade_stops_naming_the_duplicated_emails(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        insert_original_user(engine, "Alice@Example.com", "another password")
        with pytest.raises(migrations.DuplicateEmailsError) as raised:
            migrations.upgrade(database_url)
        assert "alice@example.com, Alice@Example.com" in str(raised.value)
        assert "userauth db upgrade" in str(raised.value)

    def test_a_refused_upgrade_leaves_the_database_as_it_was(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        insert_original_user(engine, "BOB@example.com", "another password")
        before = user_rows(engine), secrets_at_rest(engine)
        with pytest.raises(migrations.DuplicateEmailsError):
            migrations.upgrade(database_url)
        assert (user_rows(engine), secrets_at_rest(engine)) == before
        assert migrations.current_revision(engine) == "0001"


class TestMigrationChain:
    def test_upgrade_downgrade_upgrade_runs_clean(self, database_url: str, engine: Engine) -> None:
        migrations.upgrade(database_url)
        migrations.downgrade(database_url, "base")
        assert inspect(engine).get_table_names() == ["alembic_version"]
        migrations.upgrade(database_url)
        assert migrations.is_up_to_date(engine)

    def test_a_downgrade_to_the_original_schema_keeps_the_users(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        migrations.downgrade(database_url, "0001")
        assert user_rows(engine) == original_database
        assert set(inspect(engine).get_table_names()) == {"users", "alembic_version"}

    def test_the_head_matches_the_models(self, database_url: str, engine: Engine) -> None:
        migrations.upgrade(database_url)
        with warnings.catch_warnings():
            # SQLite cannot reflect the lower(email) index, so Alembic skips comparing it
            # there and says so; PostgreSQL compares it, and the unique-email test above
            # covers it on SQLite.
            warnings.filterwarnings("ignore", message=".*expression-based index.*")
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []

    def test_a_database_made_before_migrations_existed_is_adopted(
        self, database_url: str, engine: Engine
    ) -> None:
        Base.metadata.create_all(engine)
        migrations.upgrade(database_url)
        assert migrations.is_up_to_date(engine)


class TestDBOnAFreshOrEarlierDatabase:
    def test_db_creates_a_fresh_database_at_the_head(
        self, database_url: str, engine: Engine
    ) -> None:
        DB(database_url).close()
        assert migrations.is_up_to_date(engine)

    def test_db_upgrades_an_earlier_database_and_every_user_logs_in(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        # SPEC.md C1: DB() creates what is missing and loses no user.
        db = DB(database_url)
        try:
            assert migrations.is_up_to_date(engine)
            assert user_rows(engine) == original_database
            auth = Auth(db=db, settings=Settings(database_url=database_url, bcrypt_rounds=4))
            for email, password in ORIGINAL_USERS:
                assert auth.valid_login(email, password)
        finally:
            db.close()


def run_userauth(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "userauth", *args],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestDbCommands:
    def test_db_upgrade_brings_an_original_database_to_the_head(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        result = run_userauth(database_url, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "from revision 0001 to 0002" in result.stdout
        assert user_rows(engine) == original_database

    def test_db_current_tells_a_database_is_behind(
        self, original_database: Rows, database_url: str
    ) -> None:
        result = run_userauth(database_url, "db", "current")
        assert result.stdout.strip() == "0001 (behind 0002: run `userauth db upgrade`)"

    def test_db_current_tells_a_database_is_current(self, database_url: str) -> None:
        DB(database_url).close()
        result = run_userauth(database_url, "db", "current")
        assert result.stdout.strip() == f"{migrations.head_revision()} (current)"

    def test_db_upgrade_reports_the_duplicated_emails(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        insert_original_user(engine, "CAROL@example.com", "another password")
        result = run_userauth(database_url, "db", "upgrade")
        assert result.returncode == 1
        assert "carol@example.com, CAROL@example.com" in result.stderr


class TestServeOnAnEarlierDatabase:
    def test_serve_refuses_to_start_and_names_the_upgrade_command(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        result = run_userauth(database_url, "serve", "--workers", "1", "--port", str(free_port()))
        assert result.returncode != 0
        assert "run `userauth db upgrade` first" in result.stderr
        assert migrations.current_revision(engine) == "0001"

    def test_serve_upgrades_first_when_auto_migrate_is_on(
        self,
        original_database: Rows,
        start_server: Callable[..., ServerProcess],
        engine: Engine,
    ) -> None:
        server = start_server(
            [sys.executable, "-m", "userauth", "serve", "--workers", "1"],
            USERAUTH_AUTO_MIGRATE="true",
        )
        email, password = ORIGINAL_USERS[0]
        answer = requests.post(
            f"{server.url}/sessions", data={"email": email, "password": password}, timeout=10
        )
        assert answer.status_code == 200
        assert migrations.is_up_to_date(engine)
