"""Programs written for the design, run unchanged with python3 in a fresh folder each.

Each is a main file of the kind the design's users wrote, with the output the design prints;
the last one starts `python3 app.py` and walks the end-to-end scenario over HTTP on :5000.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.classic.conftest import ROOT, run_program
from tests.conftest import ServerProcess
from tests.test_server_process import run_contract_scenario

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"

pytestmark = pytest.mark.slow

PROGRAMS = {
    "print-columns": (
        """
from user import User

print(User.__tablename__)
for column in User.__table__.columns:
    print("{}: {}".format(column, column.type))
""",
        "users\nusers.id: INTEGER\nusers.email: VARCHAR(250)\n"
        "users.hashed_password: VARCHAR(250)\nusers.session_id: VARCHAR(250)\n"
        "users.reset_token: VARCHAR(250)\n",
    ),
    "add-users": (
        """
from db import DB

my_db = DB()
user_1 = my_db.add_user("test@test.com", "SuperHashedPwd")
print(user_1.id)
user_2 = my_db.add_user("test1@test.com", "SuperHashedPwd1")
print(user_2.id)
""",
        "1\n2\n",
    ),
    "find-user-by": (
        """
from db import DB
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import NoResultFound

my_db = DB()
user = my_db.add_user("test@test.com", "PwdHashed")
print(user.id)
print(my_db.find_user_by(email="test@test.com").id)
try:
    my_db.find_user_by(email="test2@test.com")
except NoResultFound:
    print("Not found")
try:
    my_db.find_user_by(no_email="test@test.com")
except InvalidRequestError:
    print("Invalid")
""",
        "1\n1\nNot found\nInvalid\n",
    ),
    "update-user": (
        """
from db import DB

my_db = DB()
user = my_db.add_user("test@test.com", "PwdHashed")
my_db.update_user(user.id, hashed_password="NewPwd")
print("Password updated")
print(repr(my_db.find_user_by(id=user.id).hashed_password))
try:
    my_db.update_user(user.id, no_column="x")
except ValueError:
    print("Error")
""",
        "Password updated\n'NewPwd'\nError\n",
    ),
    "register-user": (
        """
from auth import Auth

auth = Auth()
try:
    user = auth.register_user("me@me.com", "mySecuredPwd")
    print("successfully created a new user!")
except ValueError as err:
    print("could not create a new user: {}".format(err))
try:
    user = auth.register_user("me@me.com", "mySuperSecuredPwd")
    print("successfully created a new user!")
except ValueError as err:
    print("could not create a new user: {}".format(err))
print(type(auth._db.find_user_by(id=1).hashed_password).__name__)
""",
        "successfully created a new user!\n"
        "could not create a new user: User me@me.com already exists\nbytes\n",
    ),
    "valid-login": (
        """
from auth import Auth

auth = Auth()
auth.register_user("bob@bob.com", "MyPwdOfBob")
print(auth.valid_login("bob@bob.com", "MyPwdOfBob"))
print(auth.valid_login("bob@bob.com", "WrongPwd"))
print(auth.valid_login("unknown@email", "MyPwdOfBob"))
""",
        "True\nFalse\nFalse\n",
    ),
    "create-session": (
        """
from auth import Auth

auth = Auth()
auth.register_user("bob@bob.com", "MyPwdOfBob")
sid = auth.create_session("bob@bob.com")
print(sid)
print(auth.create_session("unknown@email.com"))
user = auth._db.find_user_by(session_id=sid)
print(user.session_id == sid, user)
""",
        f"{UUID}\nNone\nTrue <user.User object at 0x[0-9a-f]+>\n",
    ),
    "hash-password": (
        """
from auth import _hash_password

print(_hash_password("Hello Holberton"))
""",
        r"b'\$2b\$12\$[./A-Za-z0-9]{53}'" + "\n",
    ),
    "user-type": (
        """
from user import User

print(type(User).__name__)
print(User(email="a@b.c", hashed_password="x"))
""",
        "DeclarativeMeta\n<user.User object at 0x[0-9a-f]+>\n",
    ),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_a_design_program_prints_what_the_design_prints(name: str, tmp_path: Path) -> None:
    source, expected = PROGRAMS[name]
    finished = run_program(source, tmp_path)
    assert finished.stderr == ""
    if "\\" in expected or "[" in expected:
        assert re.fullmatch(expected, finished.stdout), finished.stdout
    else:
        assert finished.stdout == expected


def test_every_run_starts_from_an_empty_database(tmp_path: Path) -> None:
    source, expected = PROGRAMS["register-user"]
    outputs = [run_program(source, tmp_path).stdout for _ in range(2)]
    assert outputs == [expected, expected]


def wait_until_free(port: int, timeout: float = 30) -> None:
    """Wait for another server on `port` to go; the design's port is fixed."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"port {port} is taken by another server: python3 app.py needs it")
        time.sleep(0.5)


class TestPythonAppPy:
    @pytest.fixture
    def server(self, tmp_path: Path) -> object:
        wait_until_free(5000)
        process = ServerProcess(
            [sys.executable, str(ROOT / "app.py")], {"PATH": "/usr/bin:/bin"}, 5000, cwd=tmp_path
        )
        yield process.start()
        process.stop()
        process.close()

    def test_the_end_to_end_scenario_passes_on_port_5000(self, server: ServerProcess) -> None:
        run_contract_scenario("http://localhost:5000")

    def test_it_prints_where_it_runs_and_keeps_a_db_in_its_folder(
        self, server: ServerProcess, tmp_path: Path
    ) -> None:
        assert requests.get("http://127.0.0.1:5000/", timeout=10).status_code == 200
        output = server.stop()
        assert "Running on http://127.0.0.1:5000" in output
        assert (tmp_path / "a.db").exists()
