"""The `userauth` admin commands, run as a process against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from tests.conftest import TEST_BCRYPT_ROUNDS, FakeClock, free_port
from userauth import migrations
from userauth.auth import Auth, Client
from userauth.clock import utcnow

Run = Callable[..., subprocess.CompletedProcess[str]]

COMMANDS = [
    [],
    ["serve"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["user"],
    ["user", "create"],
    ["user", "invite"],
    ["user", "list"],
    ["user", "show"],
    ["user", "disable"],
    ["user", "enable"],
    ["user", "delete"],
    ["user", "revoke-sessions"],
    ["user", "reset-factors"],
    ["keys"],
    ["keys", "generate"],
    ["keys", "reencrypt"],
    ["keys", "rotate"],
    ["client"],
    ["client", "add"],
    ["client", "list"],
    ["client", "show"],
    ["client", "rotate-secret"],
    ["client", "remove"],
    ["audit"],
    ["audit", "list"],
    ["mail"],
    ["mail", "test"],
]


def userauth(
    *args: str,
    database_url: str = "sqlite:///unused.db",
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "userauth", *args],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS,
            **(env or {}),
        },
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def run(database_url: str) -> Run:
    """Run `userauth ARGS` on the test database; return the finished process."""

    def run_on_database(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return userauth(*args, database_url=database_url, stdin=stdin)

    return run_on_database


@pytest.fixture
def alice(auth: Auth) -> str:
    auth.register_user("alice@example.com", "alice password")
    return "alice@example.com"


class TestHelp:
    @pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "userauth")
    def test_every_command_has_help(self, command: list[str]) -> None:
        result = userauth(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: userauth {' '.join(command)}".rstrip())


class TestUserCreate:
    def test_creates_an_account_that_can_log_in(self, run: Run, auth: Auth) -> None:
        result = run("user", "create", "bob@example.com", "--password", "bob password")
        assert result.returncode == 0, result.stderr
        assert auth.valid_login("bob@example.com", "bob password")

    def test_reads_the_password_from_stdin(self, run: Run, auth: Auth) -> None:
        result = run("user", "create", "bob@example.com", stdin="bob password\n")
        assert result.returncode == 0, result.stderr
        assert auth.valid_login("bob@example.com", "bob password")


class TestUserList:
    def test_lists_users_a_page_at_a_time(self, run: Run, auth: Auth) -> None:
        for name in ("ann", "ben", "cid"):
            auth.register_user(f"{name}@example.com", "a password")
        result = run("user", "list", "--page", "2", "--per-page", "2")
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["3", "enabled", "cid@example.com"]
        assert lines[1:] == ["page 2 of 2 (3 user(s))"]

    def test_search_matches_part_of_the_email_in_any_case(self, run: Run, auth: Auth) -> None:
        auth.register_user("Ann.Smith@example.com", "a password")
        auth.register_user("ben@example.com", "a password")
        result = run("user", "list", "--search", "SMITH")
        assert "Ann.Smith@example.com" in result.stdout
        assert "ben@example.com" not in result.stdout


class TestUserShow:
    def test_shows_status_and_live_sessions(
        self, run: Run, auth: Auth, alice: str, clock: FakeClock
    ) -> None:
        # The command runs on the real clock: the session must be live now.
        clock.now = utcnow()
        auth.create_session(alice)
        result = run("user", "show", alice)
        assert "status: enabled" in result.stdout
        assert "live sessions: 1" in result.stdout
        assert "reset token: none" in result.stdout


class TestUserDisable:
    def test_a_disabled_user_cannot_log_in(self, run: Run, auth: Auth, alice: str) -> None:
        assert run("user", "disable", alice).returncode == 0
        assert not auth.valid_login(alice, "alice password")

    def test_a_disabled_user_has_no_live_session(self, run: Run, auth: Auth, alice: str) -> None:
        session_id = auth.create_session(alice)
        assert auth.get_user_from_session_id(session_id) is not None
        run("user", "disable", alice)
        assert auth.get_user_from_session_id(session_id) is None

    def test_show_tells_the_user_is_disabled(self, run: Run, alice: str) -> None:
        run("user", "disable", alice)
        assert "status: disabled since " in run("user", "show", alice).stdout


class TestUserEnable:
    def test_an_enabled_user_can_log_in_again(self, run: Run, auth: Auth, alice: str) -> None:
        run("user", "disable", alice)
        assert run("user", "enable", alice).returncode == 0
        assert auth.valid_login(alice, "alice password")


class TestUserDelete:
    def test_deletes_the_account_with_its_sessions_and_reset_token(
        self, run: Run, auth: Auth, alice: str
    ) -> None:
        session_id = auth.create_session(alice)
        token = auth.get_reset_password_token(alice)
        result = run("user", "delete", alice, "--yes")
        assert result.returncode == 0, result.stderr
        assert not auth.valid_login(alice, "alice password")
        assert auth.get_user_from_session_id(session_id) is None
        with pytest.raises(ValueError, match="invalid or expired reset token"):
            auth.update_password(token, "new password")

    def test_the_email_can_sign_up_again(self, run: Run, auth: Auth, alice: str) -> None:
        run("user", "delete", alice, "--yes")
        auth.register_user(alice, "new password")
        assert auth.valid_login(alice, "new password")

    def test_keeps_the_account_when_not_confirmed(self, run: Run, auth: Auth, alice: str) -> None:
        result = run("user", "delete", alice, stdin="n\n")
        assert result.returncode == 1
        assert auth.valid_login(alice, "alice password")


class TestUserRevokeSessions:
    def test_ends_every_session_and_keeps_the_account(
        self, run: Run, auth: Auth, alice: str
    ) -> None:
        sessions = [auth.create_session(alice), auth.create_session(alice)]
        result = run("user", "revoke-sessions", alice)
        assert result.stdout.strip() == f"Ended 2 session(s) of {alice}."
        assert [auth.get_user_from_session_id(s) for s in sessions] == [None, None]
        assert auth.valid_login(alice, "alice password")


class TestAuditList:
    def test_lists_events_newest_first_with_their_email(
        self, run: Run, auth: Auth, alice: str
    ) -> None:
        auth.valid_login(alice, "wrong password")
        auth.create_session(alice)
        header, *lines = run("audit", "list").stdout.splitlines()
        assert header.split()[:3] == ["time", "event", "email"]
        assert [line.split()[1:3] for line in lines] == [
            ["login", alice],
            ["login_failed", alice],
        ]

    def test_the_columns_line_up(self, run: Run, auth: Auth, alice: str) -> None:
        auth.register_user("bo@example.org", "bob password")
        auth.create_session("bo@example.org", Client("203.0.113.7", "curl/8.5.0"))
        auth.valid_login(alice, "wrong password")
        auth.end_other_sessions(auth.require_session(auth.create_session(alice)))

        header, *lines = run("audit", "list").stdout.splitlines()

        starts = [header.index(name) for name in ("event", "email", "address", "user agent")]
        assert len(lines) == 4
        for line in lines:
            assert [line[start - 2 : start] for start in starts] == ["  "] * 4, line
            assert all(line[start] != " " for start in starts), line

    def test_filters_by_email_and_limits(self, run: Run, auth: Auth, alice: str) -> None:
        auth.register_user("bob@example.com", "bob password")
        auth.create_session("bob@example.com")
        auth.create_session(alice)
        auth.create_session(alice)
        lines = run("audit", "list", "--email", "bob@example.com", "--limit", "5").stdout
        assert [line.split()[2] for line in lines.splitlines()[1:]] == ["bob@example.com"]
        assert len(run("audit", "list", "--limit", "2").stdout.splitlines()) == 1 + 2

    def test_a_deleted_accounts_events_and_its_deletion_keep_its_email(
        self, run: Run, auth: Auth, alice: str
    ) -> None:
        auth.create_session(alice)
        run("user", "delete", alice, "--yes")

        lines = run("audit", "list").stdout.splitlines()[1:]
        assert [line.split()[1:3] for line in lines] == [
            ["admin_user_deleted", alice],
            ["login", alice],
        ]
        by_email = run("audit", "list", "--email", alice).stdout.splitlines()[1:]
        assert [line.split()[1] for line in by_email] == ["admin_user_deleted", "login"]


BAD_ARGUMENTS = [
    pytest.param(["user", "show", "nobody@example.com"], id="show-unknown-email"),
    pytest.param(["user", "disable", "nobody@example.com"], id="disable-unknown-email"),
    pytest.param(["user", "enable", "nobody@example.com"], id="enable-unknown-email"),
    pytest.param(["user", "delete", "nobody@example.com", "--yes"], id="delete-unknown-email"),
    pytest.param(["user", "revoke-sessions", "nobody@example.com"], id="revoke-unknown-email"),
    pytest.param(["user", "create", "alice@example.com", "--password", "pw"], id="create-taken"),
    pytest.param(["user", "create", "not-an-email", "--password", "pw"], id="create-malformed"),
    pytest.param(["user", "create", "bob@example.com", "--password", ""], id="create-empty-pw"),
    pytest.param(["user", "list", "--page", "0"], id="page-zero"),
    pytest.param(["user", "list", "--page", "5"], id="page-past-the-last"),
    pytest.param(["user", "list", "--per-page", "x"], id="per-page-not-a-number"),
    pytest.param(["audit", "list", "--limit", "-1"], id="negative-limit"),
    pytest.param(["audit", "list", "--email", "nobody@example.com"], id="audit-unknown-email"),
    pytest.param(["user", "show"], id="missing-email"),
]


class TestBadArguments:
    @pytest.mark.parametrize("arguments", BAD_ARGUMENTS)
    def test_give_a_one_line_error_and_exit_code_2(
        self, run: Run, alice: str, arguments: list[str]
    ) -> None:
        result = run(*arguments)
        assert result.returncode == 2
        *database, error = result.stderr.splitlines()
        assert error.startswith("Error: ")
        assert [line.split()[0] for line in database] in ([], ["database:"])


READ_ONLY_COMMANDS = [
    pytest.param(["db", "current"], id="db-current"),
    pytest.param(["user", "list"], id="user-list"),
    pytest.param(["user", "show", "alice@example.com"], id="user-show"),
    pytest.param(["audit", "list"], id="audit-list"),
]


class TestWhichDatabase:
    @pytest.mark.parametrize(
        "arguments", [*READ_ONLY_COMMANDS, pytest.param(["db", "upgrade"], id="db-upgrade")]
    )
    def test_every_database_command_names_its_database_first_on_stderr(
        self, arguments: list[str], tmp_path: Path
    ) -> None:
        result = userauth(*arguments, database_url=f"sqlite:///{tmp_path / 'named.db'}")
        assert result.stderr.splitlines()[0] == f"database: sqlite:///{tmp_path / 'named.db'}"

    def test_the_password_in_the_url_is_hidden(self) -> None:
        url = f"postgresql+psycopg://someone:s3cret@127.0.0.1:{free_port()}/none"
        result = userauth("db", "current", database_url=url)
        assert result.stderr.splitlines()[0] == f"database: {url.replace('s3cret', '***')}"
        assert result.stderr.splitlines()[1].startswith("Error: cannot reach the database: ")
        assert len(result.stderr.splitlines()) == 2
        assert "s3cret" not in result.stderr + result.stdout


class TestReadOnlyCommands:
    @pytest.mark.parametrize("arguments", READ_ONLY_COMMANDS)
    def test_a_missing_sqlite_file_is_one_line_and_is_not_created(
        self, arguments: list[str], tmp_path: Path
    ) -> None:
        missing = tmp_path / "missing.db"
        result = userauth(*arguments, database_url=f"sqlite:///{missing}")
        assert result.returncode == 1
        assert result.stderr.splitlines()[1:] == [
            f"Error: no database at {missing}: nothing to read (`userauth db upgrade` creates "
            "it; DATABASE_URL names another)"
        ]
        assert not missing.exists()

    @pytest.mark.parametrize("arguments", READ_ONLY_COMMANDS[1:])
    def test_an_empty_database_gets_no_tables(
        self, arguments: list[str], database_url: str, engine: Engine
    ) -> None:
        if database_url.startswith("sqlite"):
            with engine.connect():
                pass  # the file exists, with no table
        result = userauth(*arguments, database_url=database_url)
        assert result.returncode == 1
        assert "has no userauth tables" in result.stderr
        assert inspect(engine).get_table_names() == []


class TestEarlierDatabase:
    def test_admin_commands_refuse_a_database_behind_the_head(
        self, run: Run, database_url: str
    ) -> None:
        migrations.upgrade(database_url, "0001")
        result = run("user", "list")
        assert result.returncode == 1
        assert "run `userauth db upgrade` first" in result.stderr
