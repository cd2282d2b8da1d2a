"""userauth.migrations and `userauth db`: earlier databases reach the head, losing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import bcrypt
import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Engine, Integer, String, column, insert, inspect, table, text

from tests.conftest import TEST_SECURITY, FakeClock, ServerProcess, free_port
from userauth import migrations, tokens
from userauth.admin import Admin
from userauth.auth import Auth
from userauth.db import DB
from userauth.errors import EmailTakenError, InvalidTokenError
from userauth.models import metadata
from userauth.settings import AccountSettings, DatabaseSettings, Settings, shown_database_url
from userauth.web import create_app

# (email, password) of the users an original-design database holds; the first one's hash is
# stored as the original design stored it: bcrypt's bytes (a BLOB on SQLite, '\x..' on
# PostgreSQL); the others as text.
ORIGINAL_USERS = [
    ("alice@example.com", "alice password"),
    ("bob@example.com", "bob password"),
    ("carol@example.com", "carol password"),
]
Rows = list[tuple[int, str]]
HOUR = timedelta(hours=1)


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
    """Return (session_id, reset_token) of every user, on a database at revision 0001."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT session_id, reset_token FROM users"))
        return [(row[0], row[1]) for row in rows]


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608 - a test's own table names


class TestUpgradeFromTheOriginalDesign:
    def test_a_non_ascii_email_stays_one_case_insensitive_account(
        self, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url, "0001")
        insert_original_user(engine, "Ünal@example.com", "ünal password")
        migrations.upgrade(database_url)
        db = DB(database_url)
        try:
            auth = Auth(
                db=db,
                settings=Settings(
                    database=DatabaseSettings(url=database_url), security=TEST_SECURITY
                ),
            )
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
        with engine.connect() as connection:
            session_ids = connection.execute(text("SELECT session_id FROM users")).scalars()
            assert set(session_ids) == {None}
        assert count_rows(engine, "one_time_secrets") == 0

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

    def test_the_users_table_keeps_the_designs_columns_but_the_reset_token(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.upgrade(database_url)
        columns = [column["name"] for column in inspect(engine).get_columns("users")]
        # Reset tokens are one-time secrets, in their own table (revision 0003); the email's
        # key is added (revision 0005), the credential version (revision 0008), and when
        # the email was verified and the account made (revision 0010).
        assert columns == [
            "id",
            "email",
            "hashed_password",
            "session_id",
            "email_key",
            "credential_version",
            "email_verified_at",
            "created_at",
        ]


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
        # No expression index is left (0005 dropped lower(email)): SQLite compares every one.
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []

    def test_each_script_is_named_by_its_revision_so_the_newest_name_is_the_head(self) -> None:
        # ensure_current() finds the head by the newest file name, without loading Alembic.
        scripts = ScriptDirectory.from_config(migrations.config()).walk_revisions()
        chain = sorted(scripts, key=lambda script: script.revision)
        for number, script in enumerate(chain, 1):
            assert script.revision == f"{number:04d}"
            assert script.down_revision == (f"{number - 1:04d}" if number > 1 else None)
            assert Path(script.path or "").name.startswith(f"{script.revision}_"), script.path
        assert chain[-1].revision == migrations.head_revision()

    def test_a_database_made_before_migrations_existed_is_adopted(
        self, database_url: str, engine: Engine
    ) -> None:
        # userauth's schema before migrations existed was revision 0002's, unversioned.
        migrations.upgrade(database_url, "0002")
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE alembic_version"))
        migrations.upgrade(database_url)
        assert migrations.is_up_to_date(engine)


def insert_at_0002(engine: Engine, now: datetime) -> dict[str, str]:
    """Fill a database at revision 0002 as that userauth left it: bob with a live session
    and a pending reset, carol with neither; return bob's clear session id and token."""
    session_id, token = str(uuid.uuid4()), str(uuid.uuid4())
    users = table(
        "users",
        column("id", Integer),
        column("email", String),
        column("hashed_password", String),
        column("session_id", String),
        column("reset_token", String),
    )
    sessions = table(
        "sessions",
        column("user_id", Integer),
        column("id_digest", String),
        column("created_at", DateTime(timezone=True)),
        column("last_used_at", DateTime(timezone=True)),
        column("expires_at", DateTime(timezone=True)),
        column("user_agent", String),
        column("client_address", String),
    )
    resets = table(
        "password_resets", column("user_id", Integer), column("expires_at", DateTime(True))
    )
    with engine.begin() as connection:
        for user_id, (email, password) in enumerate(ORIGINAL_USERS[1:], start=1):
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            pending = user_id == 1
            connection.execute(
                insert(users).values(
                    id=user_id,
                    email=email,
                    hashed_password=hashed,
                    session_id=tokens.digest(session_id) if pending else None,
                    reset_token=tokens.digest(token) if pending else None,
                )
            )
        connection.execute(
            insert(sessions).values(
                user_id=1,
                id_digest=tokens.digest(session_id),
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(hours=8),
                user_agent="",
                client_address="",
            )
        )
        connection.execute(
            insert(resets).values(user_id=1, expires_at=now + timedelta(minutes=30))
        )
    return {"session_id": session_id, "token": token}


class TestUpgradeToOneTimeSecrets:
    """Revision 0003 moves reset tokens into one_time_secrets, losing nothing pending."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url)
        return secrets

    def test_every_account_still_logs_in(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        for email, password in ORIGINAL_USERS[1:]:
            assert auth.valid_login(email, password), email

    def test_a_live_session_stays_live(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        user = make_auth().get_user_from_session_id(bobs["session_id"])
        assert user is not None
        assert user.email == "bob@example.com"

    def test_a_pending_reset_token_still_resets_once(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        auth.reset_password("bob@example.com", bobs["token"], "a new password")
        assert auth.valid_login("bob@example.com", "a new password")
        with pytest.raises(InvalidTokenError):
            auth.update_password(bobs["token"], "another password")

    def test_the_pending_reset_is_one_row_of_one_time_secrets(
        self, bobs: dict[str, str], engine: Engine
    ) -> None:
        assert count_rows(engine, "one_time_secrets") == 1
        assert "password_resets" not in inspect(engine).get_table_names()

    def test_a_downgrade_gives_the_pending_reset_back(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0002")
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT reset_token FROM users WHERE email = 'bob@example.com'")
            ).scalar_one()
        assert stored == tokens.digest(bobs["token"])
        assert count_rows(engine, "password_resets") == 1


class TestUpgradeToTheOutbox:
    """Revision 0004 adds the mail outbox and gives audit events their account's email."""

    def test_audit_events_keep_every_row_and_get_their_accounts_email(
        self, database_url: str, engine: Engine, clock: FakeClock
    ) -> None:
        migrations.upgrade(database_url, "0002")
        insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0003")
        with engine.begin() as connection:
            for user_id in (1, None):
                connection.execute(
                    text(
                        "INSERT INTO audit_events (user_id, event, client_address, user_agent,"
                        " created_at) VALUES (:user_id, 'login', '', '', :now)"
                    ),
                    {"user_id": user_id, "now": clock()},
                )

        migrations.upgrade(database_url)

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT user_id, email FROM audit_events ORDER BY id")
            ).all()
        assert [tuple(row) for row in rows] == [(1, ORIGINAL_USERS[1][0]), (None, None)]
        assert count_rows(engine, "mail_jobs") == 0


# (email, password, another spelling of it) of accounts a database at revision 0004 holds;
# the first is the one PostgreSQL's lower() kept from logging in ("ΣΑΣ" is "σασ" there).
ACCOUNTS_AT_0004 = [
    ("ΣΑΣ@example.com", "sigma password", "σας@example.com"),
    ("Ünal@example.com", "ünal password", "üNAL@EXAMPLE.com"),
    ("bob@example.com", "bob password", "ＢＯＢ@example.com"),
]
PASSWORD_AT_0004 = "a password"
# The email a deleted account's audit events kept, and another spelling of it.
DELETED_AT_0004 = ("Straße@example.com", "STRASSE@example.com")


def insert_users_at_0004(engine: Engine, accounts: list[tuple[str, str]]) -> None:
    """Insert (email, password) accounts as revision 0004's userauth stored them (no key)."""
    with engine.begin() as connection:
        for email, password in accounts:
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            connection.execute(
                text("INSERT INTO users (email, hashed_password) VALUES (:email, :hashed)"),
                {"email": email, "hashed": hashed},
            )


def insert_at_0004(engine: Engine, now: datetime) -> str:
    """Fill a database at revision 0004: ACCOUNTS_AT_0004, a live session of the first, a
    login event of each, and an event of a deleted account; return the session id."""
    session_id = str(uuid.uuid4())
    insert_users_at_0004(engine, [(email, password) for email, password, _ in ACCOUNTS_AT_0004])
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sessions (user_id, id_digest, created_at, last_used_at, expires_at,"
                " user_agent, client_address) VALUES (1, :digest, :now, :now, :expires, '', '')"
            ),
            {"digest": tokens.digest(session_id), "now": now, "expires": now + timedelta(hours=8)},
        )
        events = [(user_id, email) for user_id, (email, _, _) in enumerate(ACCOUNTS_AT_0004, 1)]
        for user_id, email in [*events, (None, DELETED_AT_0004[0])]:
            connection.execute(
                text(
                    "INSERT INTO audit_events (user_id, event, email, client_address, user_agent,"
                    " created_at) VALUES (:user_id, 'login', :email, '', '', :now)"
                ),
                {"user_id": user_id, "email": email, "now": now},
            )
    return session_id


class TestUpgradeToEmailKeys:
    """Revision 0005 keys every account by emails.lookup_key, keeping every row."""

    @pytest.fixture
    def session_id(self, database_url: str, engine: Engine, clock: FakeClock) -> str:
        migrations.upgrade(database_url, "0004")
        return insert_at_0004(engine, clock())

    def test_no_row_is_lost(self, session_id: str, database_url: str, engine: Engine) -> None:
        before = user_rows(engine), count_rows(engine, "audit_events")
        migrations.upgrade(database_url)
        assert (user_rows(engine), count_rows(engine, "audit_events")) == before

    def test_every_account_logs_in_with_another_spelling_of_its_email(
        self, session_id: str, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        for email, password, other in ACCOUNTS_AT_0004:
            assert auth.valid_login(email, password), email
            assert auth.valid_login(other, password), other

    def test_another_spelling_of_a_kept_email_is_taken(
        self, session_id: str, make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        for _, _, other in ACCOUNTS_AT_0004:
            with pytest.raises(EmailTakenError):
                auth.register_user(other, "another password")

    def test_a_live_session_stays_live(
        self, session_id: str, make_auth: Callable[..., Auth]
    ) -> None:
        user = make_auth().get_user_from_session_id(session_id)
        assert user is not None
        assert user.email == ACCOUNTS_AT_0004[0][0]

    def test_a_deleted_accounts_events_are_found_by_another_spelling(
        self, session_id: str, make_auth: Callable[..., Auth]
    ) -> None:
        events = Admin(make_auth()).audit_events(email=DELETED_AT_0004[1])
        assert [(event.event, event.email) for event in events] == [("login", DELETED_AT_0004[0])]


class TestEmailsThatShareAKey:
    """Accounts 0004 kept apart but whose emails share a key: 0005 names them, touches none."""

    # straße/STRASSE differ under lower() everywhere; σας/ΣΑΣ under SQLite's and PostgreSQL's.
    SHARING = ("straße@example.com", "STRASSE@example.com", "σας@example.com", "ΣΑΣ@example.com")

    @pytest.fixture
    def sharing(self, database_url: str, engine: Engine) -> Rows:
        migrations.upgrade(database_url, "0004")
        emails = ["alice@example.com", *self.SHARING]
        insert_users_at_0004(engine, [(email, PASSWORD_AT_0004) for email in emails])
        return user_rows(engine)

    def test_the_upgrade_stops_naming_each_account_that_shares_a_key(
        self, sharing: Rows, database_url: str
    ) -> None:
        with pytest.raises(migrations.DuplicateEmailsError) as raised:
            migrations.upgrade(database_url)
        message = str(raised.value)
        assert "straße@example.com (id 2), STRASSE@example.com (id 3)" in message
        assert "σας@example.com (id 4), ΣΑΣ@example.com (id 5)" in message
        assert "alice" not in message
        assert "userauth db upgrade" in message

    def test_a_refused_upgrade_leaves_the_database_as_it_was(
        self, sharing: Rows, database_url: str, engine: Engine
    ) -> None:
        with pytest.raises(migrations.DuplicateEmailsError):
            migrations.upgrade(database_url)
        assert user_rows(engine) == sharing
        assert migrations.current_revision(engine) == "0004"
        columns = {column["name"] for column in inspect(engine).get_columns("users")}
        assert "email_key" not in columns

    def test_db_upgrade_reports_them_and_exits_1(self, sharing: Rows, database_url: str) -> None:
        result = run_userauth(database_url, "db", "upgrade")
        assert result.returncode == 1
        assert "straße@example.com (id 2), STRASSE@example.com (id 3)" in result.stderr

    def test_the_upgrade_goes_through_once_one_of_each_is_left(
        self, sharing: Rows, database_url: str, engine: Engine, make_auth: Callable[..., Auth]
    ) -> None:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE id IN (3, 5)"))
        migrations.upgrade(database_url)
        assert make_auth().valid_login("straße@example.com", PASSWORD_AT_0004)


class TestUpgradeToPublicSessionIds:
    """Revision 0006 gives every stored session a random public id; none is lost."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0004")
        second = str(uuid.uuid4())
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sessions (user_id, id_digest, created_at, last_used_at,"
                    " expires_at, user_agent, client_address)"
                    " VALUES (1, :digest, :now, :now, :expires, 'phone', '')"
                ),
                {"digest": tokens.digest(second), "now": clock(), "expires": clock() + HOUR},
            )
        migrations.upgrade(database_url)
        return {**secrets, "second": second}

    def test_every_session_stays_live_with_its_own_random_public_id(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], engine: Engine
    ) -> None:
        auth = make_auth()
        views = auth.list_sessions(auth.require_session(bobs["session_id"]))
        public_ids = [view.id for view in views]
        assert len(set(public_ids)) == len(public_ids) == count_rows(engine, "sessions") == 2
        assert all(len(public_id) == 22 and not public_id.isdigit() for public_id in public_ids)

    def test_a_session_made_before_is_revoked_by_its_public_id(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        live = auth.require_session(bobs["session_id"])
        (phone,) = [view.id for view in auth.list_sessions(live) if not view.current]
        auth.revoke_session(live, phone)
        assert auth.resolve_session(bobs["second"]) is None
        assert auth.resolve_session(bobs["session_id"]) is not None

    def test_a_downgrade_keeps_the_sessions(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0004")
        assert count_rows(engine, "sessions") == 2
        assert "public_id" not in {c["name"] for c in inspect(engine).get_columns("sessions")}


class TestUpgradeToTheJanitor:
    """Revision 0007 adds the janitor's lease and expiry indexes; it deletes nothing itself."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0006")
        clock.advance(days=1)  # bob's session and reset token have expired
        migrations.upgrade(database_url)
        return secrets

    def test_expired_rows_stay_until_the_janitor_prunes_them(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], engine: Engine
    ) -> None:
        assert count_rows(engine, "sessions") == count_rows(engine, "one_time_secrets") == 1
        pruned = make_auth().janitor.run_once()
        assert pruned is not None
        assert (pruned["sessions"], pruned["one_time_secrets"]) == (1, 1)
        assert count_rows(engine, "sessions") == count_rows(engine, "one_time_secrets") == 0

    def test_the_expiry_columns_are_indexed(self, bobs: dict[str, str], engine: Engine) -> None:
        for table_name in ("sessions", "one_time_secrets"):
            indexes = inspect(engine).get_indexes(table_name)
            assert ["expires_at"] in [index["column_names"] for index in indexes]

    def test_a_downgrade_keeps_the_sessions(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0006")
        assert count_rows(engine, "sessions") == 1
        assert "leases" not in inspect(engine).get_table_names()


class TestUpgradeToSecondFactors:
    """Revision 0008 (second factors) keeps every row: sessions, a pending reset, mail."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0007")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO mail_jobs (kind, email, client_address, user_agent, attempts,"
                    " due_at, created_at) VALUES ('reset', 'bob@example.com', '', '', 0,"
                    " :now, :now)"
                ),
                {"now": clock()},
            )
        migrations.upgrade(database_url)
        return secrets

    def test_a_session_made_before_stays_live_as_a_password_session(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth()
        live = auth.require_session(bobs["session_id"])
        assert (live.amr, live.aal, live.authenticated_at) == (("pwd",), 1, clock())
        [view] = auth.list_sessions(live)
        assert view.factors == ("pwd",)

    def test_the_pending_reset_still_resets_once_and_the_mail_job_stays(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], engine: Engine
    ) -> None:
        auth = make_auth()
        auth.update_password(bobs["token"], "a new password for bob")
        with pytest.raises(InvalidTokenError):
            auth.update_password(bobs["token"], "another new password")
        assert count_rows(engine, "mail_jobs") == 1
        assert auth.valid_login("bob@example.com", "a new password for bob")

    def test_a_downgrade_keeps_the_sessions_and_mail(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0007")
        assert count_rows(engine, "sessions") == 1
        assert count_rows(engine, "mail_jobs") == 1
        assert "factors" not in inspect(engine).get_table_names()


class TestUpgradeToPasskeys:
    """Revision 0009 (passkeys) keeps every row: sessions, a pending reset, mail."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0008")
        assert count_rows(engine, "sessions") == 1
        migrations.upgrade(database_url)
        return secrets

    def test_a_session_made_before_stays_live_and_the_password_logs_in_alone(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        live = auth.require_session(bobs["session_id"])
        assert auth.passkeys.list(live.user_id) == []
        assert auth.login("bob@example.com", "bob password").succeeded

    def test_the_pending_reset_still_resets_once(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth()
        auth.update_password(bobs["token"], "a new password for bob")
        with pytest.raises(InvalidTokenError):
            auth.update_password(bobs["token"], "another new password")

    def test_a_downgrade_keeps_the_sessions_and_drops_the_passkeys(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0008")
        assert count_rows(engine, "sessions") == 1
        tables = inspect(engine).get_table_names()
        assert {"passkeys", "passkey_handles", "webauthn_challenges"}.isdisjoint(tables)


class TestUpgradeToAccountLifecycle:
    """Revision 0010 (the account's lifecycle) keeps every account, each counted verified
    and dated by its first audit event when the trail has one."""

    @pytest.fixture
    def bobs(self, database_url: str, engine: Engine, clock: FakeClock) -> dict[str, str]:
        migrations.upgrade(database_url, "0002")
        secrets = insert_at_0002(engine, clock())
        migrations.upgrade(database_url, "0009")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_events (user_id, event, email, email_key,"
                    " client_address, user_agent, created_at) VALUES (1, 'user_registered',"
                    " 'bob@example.com', 'bob@example.com', '', '', :then)"
                ),
                {"then": clock() - HOUR},
            )
        migrations.upgrade(database_url)
        return secrets

    def test_every_account_counts_verified_so_required_locks_nobody_out(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        auth = make_auth(AccountSettings(email_verification="required"))
        for email, password in ORIGINAL_USERS[1:]:
            result = auth.login(email, password)
            assert result.succeeded, email

    def test_an_account_is_dated_by_its_first_audit_event(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth()
        bob, carol = auth.accounts.find("bob@example.com"), auth.accounts.find("carol@example.com")
        assert bob is not None
        assert carol is not None
        assert auth.db.account_created_at(bob.id) == clock() - HOUR
        assert auth.db.account_created_at(carol.id) is None

    def test_a_session_made_before_stays_live(
        self, bobs: dict[str, str], make_auth: Callable[..., Auth]
    ) -> None:
        live = make_auth().require_session(bobs["session_id"])
        assert live.email_verified

    def test_a_downgrade_keeps_every_account_and_session(
        self, bobs: dict[str, str], database_url: str, engine: Engine
    ) -> None:
        migrations.downgrade(database_url, "0009")
        assert count_rows(engine, "users") == 2
        assert count_rows(engine, "sessions") == 1
        columns = [column["name"] for column in inspect(engine).get_columns("users")]
        assert "email_verified_at" not in columns


class TestBuildingADBOrAnApp:
    def test_building_a_db_creates_no_table(self, database_url: str, engine: Engine) -> None:
        DB(database_url).close()
        assert inspect(engine).get_table_names() == []

    def test_building_an_app_creates_no_table(self, database_url: str, engine: Engine) -> None:
        settings = Settings(database=DatabaseSettings(url=database_url), security=TEST_SECURITY)
        create_app(settings)
        assert inspect(engine).get_table_names() == []

    def test_building_a_db_does_not_upgrade_an_earlier_database(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        DB(database_url).close()
        assert migrations.current_revision(engine) == "0001"


class TestEnsureCurrent:
    def test_it_creates_a_fresh_database_at_the_head(
        self, database_url: str, engine: Engine
    ) -> None:
        migrations.ensure_current(database_url, auto_migrate=False)
        assert migrations.is_up_to_date(engine)

    def test_it_upgrades_an_earlier_database_and_every_user_logs_in(
        self, original_database: Rows, database_url: str, engine: Engine
    ) -> None:
        migrations.ensure_current(database_url, auto_migrate=True)
        assert migrations.is_up_to_date(engine)
        assert user_rows(engine) == original_database
        db = DB(database_url)
        try:
            auth = Auth(
                db=db,
                settings=Settings(
                    database=DatabaseSettings(url=database_url), security=TEST_SECURITY
                ),
            )
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
        assert f"from revision 0001 to {migrations.head_revision()}" in result.stdout
        assert user_rows(engine) == original_database

    def test_db_current_tells_a_database_is_behind(
        self, original_database: Rows, database_url: str
    ) -> None:
        result = run_userauth(database_url, "db", "current")
        head = migrations.head_revision()
        assert result.stdout.strip() == f"0001 (behind {head}: run `userauth db upgrade`)"

    def test_db_current_tells_a_database_is_current(self, database_url: str) -> None:
        migrations.upgrade(database_url)
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
        # Which database: the one the settings named, said as every command says it.
        assert f"database {shown_database_url(database_url)}:" in result.stderr
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
