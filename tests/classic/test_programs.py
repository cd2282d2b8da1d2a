"""Programs written for the design, run unchanged with python3 in a fresh folder each.

Each is a main file of the kind the design's users wrote, with the output the design prints;
the last ones start `python3 app.py` and walk the end-to-end scenario over HTTP, and check
that it serves on :5000 (in a network namespace of its own: no test needs the machine's port).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
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


# Run with python3 inside a network namespace of its own, where port 5000 is free whatever the
# machine runs: start `python3 app.py` (argv[1]) as its user would, wait for its answer on
# :5000, then stop it and print the answer and all the server printed.
ON_ITS_OWN_PORT_5000 = """
import json, subprocess, sys, time, urllib.request

server = subprocess.Popen(
    [sys.executable, sys.argv[1]], env={"PATH": "/usr/bin:/bin"},
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
)
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen("http://127.0.0.1:5000/", timeout=1) as answer:
            status, body = answer.status, json.load(answer)
        break
    except OSError:
        if time.monotonic() > deadline or server.poll() is not None:
            status, body = None, None
            break
        time.sleep(0.1)
server.terminate()
output = server.communicate(timeout=30)[0].decode()
print(json.dumps({"status": status, "body": body, "output": output}))
"""


def run_in_own_network(program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a Python program in a new network namespace (loopback only), or skip the test.

    An unprivileged user namespace maps the caller to root there, as `unshare -rn` does; a
    machine that forbids them (some containers) cannot run the test.
    """
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare is None or not Path(ip).exists():
        pytest.skip("a network namespace of its own needs unshare and ip (util-linux, iproute2)")
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"this machine allows no network namespace: {probe.stderr.decode().strip()}")
    # The new namespace's loopback starts down.
    shell = f'{ip} link set lo up && exec "$0" -c "$@"'
    return subprocess.run(
        [unshare, "-rn", "sh", "-c", shell, sys.executable, program, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


class TestPythonAppPy:
    @pytest.fixture
    def server(self, tmp_path: Path) -> Iterator[ServerProcess]:
        """`python3 app.py` serving on a socket the test made on a free port.

        Werkzeug's reloader hands its server a listening socket through WERKZEUG_SERVER_FD
        (with WERKZEUG_RUN_MAIN set); so does this fixture. app.py runs unchanged, only on
        that socket rather than on :5000, which another program may hold.
        """
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            env = {
                "PATH": "/usr/bin:/bin",
                "WERKZEUG_RUN_MAIN": "true",
                "WERKZEUG_SERVER_FD": str(listener.fileno()),
            }
            process = ServerProcess(
                [sys.executable, str(ROOT / "app.py")],
                env,
                port,
                cwd=tmp_path,
                pass_fds=(listener.fileno(),),
            )
            process.start()
        yield process
        process.stop()
        process.close()

    def test_the_end_to_end_scenario_passes(self, server: ServerProcess) -> None:
        run_contract_scenario(f"http://localhost:{server.port}")

    def test_it_keeps_a_db_in_its_folder(self, server: ServerProcess, tmp_path: Path) -> None:
        assert requests.get(server.url + "/", timeout=10).status_code == 200
        assert (tmp_path / "a.db").exists()

    def test_it_serves_on_port_5000_and_prints_where(self, tmp_path: Path) -> None:
        finished = run_in_own_network(ON_ITS_OWN_PORT_5000, str(ROOT / "app.py"), cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr
        ran = json.loads(finished.stdout)
        assert (ran["status"], ran["body"]) == (200, {"message": "Bienvenue"}), ran["output"]
        assert "Running on http://127.0.0.1:5000" in ran["output"]
