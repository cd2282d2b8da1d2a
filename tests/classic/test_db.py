"""The design's `db.py`: `DB()` on a.db, emptied on every construction; its three methods."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound, PendingRollbackError
from sqlalchemy.orm import Session

import db
from tests.classic.conftest import ROOT, run_program

MakeDB = Callable[[], db.DB]


def stored_rows(path: Path = Path("a.db")) -> list[tuple[object, ...]]:
    """Read `users` straight from the SQLite file, past the design's session."""
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT * FROM users ORDER BY id").fetchall()


class TestConstructor:
    def test_db_makes_a_db_in_the_working_directory(self, make_db: MakeDB) -> None:
        make_db().add_user("ann@example.com", "hash")
        assert stored_rows(Path.cwd() / "a.db") == [(1, "ann@example.com", "hash", None, None)]

    def test_a_second_db_sees_no_earlier_user(self, make_db: MakeDB) -> None:
        make_db().add_user("ann@example.com", "hash")
        second = make_db()
        with pytest.raises(NoResultFound):
            second.find_user_by(email="ann@example.com")
        assert stored_rows() == []

    def test_ids_start_at_1_in_every_run(self, tmp_path: Path) -> None:
        program = 'from db import DB\nstore = DB()\nprint(store.add_user("a@b.c", "h").id)\n'
        runs = [run_program(program, tmp_path).stdout for _ in range(2)]
        assert runs == ["1\n", "1\n"]

    def test_the_engine_does_not_echo_sql(self, tmp_path: Path) -> None:
        program = 'from db import DB\nd = DB()\nd.add_user("a@b.c", "h")\nd.find_user_by(id=1)\n'
        finished = run_program(program, tmp_path)
        assert (finished.stdout, finished.stderr) == ("", "")

    def test_a_database_left_by_the_design_is_emptied(self, make_db: MakeDB) -> None:
        make_db().add_user("ann@example.com", "hash")
        make_db()
        assert stored_rows() == []


class TestServiceDatabaseIsRefused:
    """A file holding the service's tables is never emptied by the design's DB()."""

    @pytest.fixture
    def service_database(self, tmp_path: Path) -> Path:
        env = {**os.environ, "DATABASE_URL": "sqlite:///a.db"}
        subprocess.run(
            [sys.executable, "-m", "userauth", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        with sqlite3.connect(tmp_path / "a.db") as connection:
            connection.execute(
                "INSERT INTO users (email, email_key, hashed_password)"
                " VALUES ('k@e.p', 'k@e.p', 'h')"
            )
        return tmp_path / "a.db"

    def test_db_raises_one_sentence_and_drops_nothing(self, service_database: Path) -> None:
        with pytest.raises(db.ServiceDatabaseError, match=r"^a\.db holds the userauth service"):
            db.DB()
        assert [row[1] for row in stored_rows(service_database)] == ["k@e.p"]

    def test_another_projects_alembic_table_is_no_service_database(self, make_db: MakeDB) -> None:
        with sqlite3.connect("a.db") as connection:
            connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        make_db().add_user("ann@example.com", "hash")
        assert stored_rows() == [(1, "ann@example.com", "hash", None, None)]

    def test_python3_app_py_exits_with_the_sentence(self, service_database: Path) -> None:
        finished = subprocess.run(
            [sys.executable, str(ROOT / "app.py")],
            cwd=service_database.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 1
        assert finished.stderr.startswith("a.db holds the userauth service's database")
        assert finished.stderr.count("\n") == 1
        assert [row[1] for row in stored_rows(service_database)] == ["k@e.p"]


class TestSession:
    def test_session_is_a_sqlalchemy_session(self, make_db: MakeDB) -> None:
        assert isinstance(make_db()._session, Session)

    def test_session_is_memoized(self, make_db: MakeDB) -> None:
        store = make_db()
        assert store._session is store._session


class TestAddUser:
    def test_returns_the_saved_user(self, make_db: MakeDB) -> None:
        user = make_db().add_user("ann@example.com", "hash")
        assert (user.id, user.email, user.hashed_password) == (1, "ann@example.com", "hash")
        assert (user.session_id, user.reset_token) == (None, None)

    def test_a_refused_write_leaves_the_session_failed_as_the_designs(
        self, make_db: MakeDB
    ) -> None:
        store = make_db()
        with pytest.raises(IntegrityError):
            store.add_user(None, "hash")  # type: ignore[arg-type]
        with pytest.raises(PendingRollbackError):
            store.add_user("ann@example.com", "hash")

    def test_the_same_email_twice_makes_ids_1_and_2(self, make_db: MakeDB) -> None:
        store = make_db()
        ids = [store.add_user("ann@example.com", "hash").id for _ in range(2)]
        assert ids == [1, 2]

    @pytest.mark.parametrize(
        ("email", "hashed_password"),
        [("", ""), ("not an email", "not a hash"), ("ANN@EXAMPLE.COM ", "x")],
        ids=["empty", "not-an-email", "untrimmed"],
    )
    def test_stores_anything_as_given(
        self, make_db: MakeDB, email: str, hashed_password: str
    ) -> None:
        make_db().add_user(email, hashed_password)
        assert stored_rows() == [(1, email, hashed_password, None, None)]


class TestFindUserBy:
    def test_finds_the_user_by_email(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        store.add_user("bob@example.com", "h2")
        assert store.find_user_by(email="bob@example.com").id == 2

    def test_every_keyword_must_match(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        with pytest.raises(NoResultFound):
            store.find_user_by(email="ann@example.com", hashed_password="h2")

    def test_returns_the_first_of_several_matches(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        store.add_user("ann@example.com", "h2")
        assert store.find_user_by(email="ann@example.com").id == 1

    def test_raises_no_result_found_when_none_matches(self, make_db: MakeDB) -> None:
        with pytest.raises(NoResultFound):
            make_db().find_user_by(email="nobody@example.com")

    def test_raises_invalid_request_error_for_a_non_column(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        with pytest.raises(InvalidRequestError):
            store.find_user_by(no_email="ann@example.com")


class TestUpdateUser:
    def test_sets_the_attributes_and_commits(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        store.update_user(1, session_id="abc", reset_token="xyz")
        assert stored_rows() == [(1, "ann@example.com", "h1", "abc", "xyz")]

    @pytest.mark.parametrize(
        "value", ["NewPwd", b"NewPwd", "", b"\x00\xff"], ids=["str", "bytes", "empty", "binary"]
    )
    def test_a_value_reads_back_as_written(self, make_db: MakeDB, value: str | bytes) -> None:
        store = make_db()
        user = store.add_user("ann@example.com", b"h1")
        store.update_user(user.id, hashed_password=value)
        store._session.expire_all()
        assert store.find_user_by(id=user.id).hashed_password == value

    def test_raises_value_error_for_a_non_attribute_and_changes_nothing(
        self, make_db: MakeDB
    ) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        with pytest.raises(ValueError):  # noqa: PT011 - the design raises a bare ValueError
            store.update_user(1, email="new@example.com", no_such_column="x")
        store._session.expire_all()
        assert store.find_user_by(id=1).email == "ann@example.com"

    def test_raises_no_result_found_for_an_unknown_id(self, make_db: MakeDB) -> None:
        with pytest.raises(NoResultFound):
            make_db().update_user(7, email="x")

    def test_changes_only_that_user(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ann@example.com", "h1")
        store.add_user("bob@example.com", "h2")
        store.update_user(2, session_id="s")
        assert [row[3] for row in stored_rows()] == [None, "s"]
