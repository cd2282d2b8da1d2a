"""Bulk seeding: users and live sessions written with SQL, not through bcrypt one by one."""

from __future__ import annotations

import hashlib
import random
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from userauth import migrations
from userauth.emails import lookup_key
from userauth.models import metadata
from userauth.tokens import new_public_id

# Accounts whose clear session ids wrk sends, and accounts for logins and for resets: disjoint,
# since a reset ends every session of its account.
PROFILE_ACCOUNTS = 200
LOGIN_ACCOUNTS = 300
RESET_ACCOUNTS = 400
# Stays inside the idle timeout and the absolute lifetime of the default settings.
SESSION_LIFETIME = timedelta(hours=7)
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class Seeded:
    """What wrk needs from a seeded database: clear session ids and account emails."""

    users: int
    profile_sessions: list[str]
    profile_emails: list[str]
    login_emails: list[str]
    reset_emails: list[str]


def email_of(number: int) -> str:
    return f"user{number}@bench.example.com"


def seed(url: str, users: int, password_hash: bytes, rng: random.Random) -> Seeded:
    """Empty the userauth tables at `url`, then write `users` accounts, each with one session.

    Every account shares one hash (of the benchmark password at the configured cost): a
    login still does a full bcrypt check, and seeding does not take a bcrypt per account.
    """
    _recreate_tables(url)
    wanted = PROFILE_ACCOUNTS + LOGIN_ACCOUNTS + RESET_ACCOUNTS
    chosen = rng.sample(range(1, users + 1), min(users, wanted))
    logins_end = PROFILE_ACCOUNTS + LOGIN_ACCOUNTS
    profile = chosen[:PROFILE_ACCOUNTS]
    clear = {number: str(uuid.uuid4()) for number in profile}
    rows = _Rows(users, password_hash.decode("ascii"), clear, rng.getrandbits(64))
    if make_url(url).get_backend_name() == "sqlite":
        _write_sqlite(url, rows)
    else:
        _write_postgres(url, rows)
    return Seeded(
        users=users,
        profile_sessions=[clear[number] for number in profile],
        profile_emails=[email_of(number) for number in profile],
        login_emails=[email_of(number) for number in chosen[PROFILE_ACCOUNTS:logins_end]],
        reset_emails=[email_of(number) for number in chosen[logins_end:]],
    )


def postgres_urls(url: str) -> tuple[str, str]:
    """Return the URLs of the small and the large (`<name>_big`) databases, created if missing."""
    parsed = make_url(url)
    big = parsed.set(database=f"{parsed.database}_big").render_as_string(hide_password=False)
    ensure_postgres_database(url)
    ensure_postgres_database(big)
    return url, big


def ensure_postgres_database(url: str) -> None:
    """Create the database named by `url` when missing (connecting to its server's `postgres`)."""
    target = make_url(url)
    admin = _psycopg_url(url, database="postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)
        ).fetchone()
        if found is None:
            name = sql.Identifier(str(target.database))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _recreate_tables(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()
    # userauth creates its own schema, as `userauth serve` does before it serves.
    migrations.ensure_current(url, auto_migrate=False)


class _Rows:
    """The rows to write, generated lazily: a million of them fit in no list we need."""

    def __init__(self, users: int, password_hash: str, clear: dict[int, str], salt: int) -> None:
        self.users = users
        self._hash = password_hash
        self._clear = clear
        self._salt = salt
        self.now = datetime.now(UTC)
        self.expires = self.now + SESSION_LIFETIME

    def digest(self, number: int) -> str:
        clear = self._clear.get(number) or f"unused-{self._salt}-{number}"
        return hashlib.sha256(clear.encode()).hexdigest()

    def users_rows(self) -> Iterator[tuple[int, str, str, str, str]]:
        for number in range(1, self.users + 1):
            email = email_of(number)
            yield number, email, self._hash, self.digest(number), lookup_key(email)

    def session_rows(
        self,
    ) -> Iterator[tuple[int, int, str, str, object, object, object, str, str, object]]:
        """Yield one password-made session per account (amr and aal keep their defaults)."""
        now, expires = self.now, self.expires
        for number in range(1, self.users + 1):
            digest = self.digest(number)
            yield number, number, digest, new_public_id(), now, now, expires, "", "", now


def _write_sqlite(url: str, rows: _Rows) -> None:
    path = make_url(url).database
    assert path
    now = rows.now.strftime(SQLITE_DATETIME)  # SQLAlchemy's SQLite DATETIME format, UTC
    expires = rows.expires.strftime(SQLITE_DATETIME)
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO users (id, email, hashed_password, session_id, email_key)"
                " VALUES (?, ?, ?, ?, ?)",
                rows.users_rows(),
            )
            connection.executemany(
                "INSERT INTO sessions (id, user_id, id_digest, public_id, created_at,"
                " last_used_at, expires_at, user_agent, client_address, authenticated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*row[:4], now, now, expires, *row[7:9], now) for row in rows.session_rows()),
            )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def _write_postgres(url: str, rows: _Rows) -> None:
    with psycopg.connect(_psycopg_url(url)) as connection:
        with connection.cursor() as cursor:
            columns = "id, email, hashed_password, session_id, email_key"
            with cursor.copy(f"COPY users ({columns}) FROM STDIN") as copy:
                for user in rows.users_rows():
                    copy.write_row(user)
            columns = (
                "id, user_id, id_digest, public_id, created_at, last_used_at, expires_at,"
                " user_agent, client_address, authenticated_at"
            )
            with cursor.copy(f"COPY sessions ({columns}) FROM STDIN") as copy:
                for session in rows.session_rows():
                    copy.write_row(session)
            # Explicit ids leave the sequences behind; new sign-ups and logins need them ahead.
            for table in ("users", "sessions"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table}))"
                )
        connection.commit()
        # The maintenance a million new rows call for, done now rather than by autovacuum and
        # the checkpointer in the middle of a measured run (one such run served half as many
        # requests): vacuum and statistics, then the dirty pages written out.
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE)")
        connection.execute("CHECKPOINT")


def _psycopg_url(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)
