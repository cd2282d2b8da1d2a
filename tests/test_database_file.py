"""The service's default database file: its own `userauth.db`, never the design's `a.db`.

The design's `DB()` empties `a.db` on every run, so the two faces must not share it by
accident; a service database left at the old default keeps working, with a notice.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, SERVE, TEST_BCRYPT_ROUNDS, ServerProcess, free_port
from userauth.settings import Settings, SettingsError
from userauth.settings.production import database_notice


def userauth_db_upgrade(folder: Path, url: str) -> None:
    """Make a service database at `url` with the service's own CLI."""
    subprocess.run(
        [sys.executable, "-m", "userauth", "db", "upgrade"],
        cwd=folder,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=60,
    )


def design_database(folder: Path) -> None:
    """Make an a.db as the design's DB() leaves it: one `users` table."""
    with sqlite3.connect(folder / "a.db") as connection:
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(250))")


class TestDefault:
    def test_unset_database_url_is_the_services_own_file(self, tmp_path: Path) -> None:
        settings = Settings.from_env({})
        assert settings.database.url == "sqlite:///userauth.db"
        assert database_notice(settings) is None

    def test_a_design_a_db_is_not_taken_for_the_services(self, tmp_path: Path) -> None:
        design_database(tmp_path)
        assert Settings.from_env({}).database.url == "sqlite:///userauth.db"

    def test_a_service_database_at_a_db_keeps_working_with_a_notice(self, tmp_path: Path) -> None:
        userauth_db_upgrade(tmp_path, "sqlite:///a.db")
        settings = Settings.from_env({})
        assert settings.database.url == "sqlite:///a.db"
        notice = database_notice(settings)
        assert notice is not None
        assert "found at a.db" in notice
        assert "userauth.db" in notice

    def test_userauth_db_wins_over_a_service_a_db(self, tmp_path: Path) -> None:
        userauth_db_upgrade(tmp_path, "sqlite:///a.db")
        userauth_db_upgrade(tmp_path, "sqlite:///userauth.db")
        assert Settings.from_env({}).database.url == "sqlite:///userauth.db"

    def test_database_url_always_wins(self, tmp_path: Path) -> None:
        userauth_db_upgrade(tmp_path, "sqlite:///a.db")
        settings = Settings.from_env({"DATABASE_URL": "sqlite:///elsewhere.db"})
        assert settings.database.url == "sqlite:///elsewhere.db"
        assert database_notice(settings) is None


class TestDatabaseUrlSetting:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("nonsense", "cannot be parsed"),
            ("mysql://someone:s3cret@127.0.0.1/x", "not mysql"),
            ("oracle://someone:s3cret@db/x", "not oracle"),
        ],
        ids=["not-a-url", "mysql", "oracle"],
    )
    def test_a_url_userauth_cannot_use_stops_start_up_in_one_sentence(
        self, url: str, says: str
    ) -> None:
        with pytest.raises(SettingsError, match=r"^DATABASE_URL must") as refused:
            Settings.from_env({"DATABASE_URL": url})
        assert says in str(refused.value)
        assert "s3cret" not in str(refused.value)

    def test_serve_prints_it_without_a_traceback(self) -> None:
        finished = subprocess.run(
            [*SERVE],
            env={**os.environ, "DATABASE_URL": "nonsense"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 2
        assert finished.stderr.startswith("Error: DATABASE_URL must be a URL")
        assert "Traceback" not in finished.stderr


@pytest.mark.slow
class TestServeWithoutDatabaseUrl:
    @pytest.fixture
    def serve(self, tmp_path: Path) -> Iterator[ServerProcess]:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "USERAUTH_PORT": str(port),
            "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS,
        }
        server = ServerProcess(SERVE, env, port, cwd=tmp_path)
        yield server
        server.stop()
        server.close()

    def test_accounts_outlive_a_design_run_in_the_same_folder(
        self, serve: ServerProcess, tmp_path: Path
    ) -> None:
        account = {"email": "ann@example.com", "password": "b4l0u-b4l0u"}
        serve.start()
        assert requests.post(f"{serve.url}/users", data=account, timeout=10).status_code == 200
        serve.stop()
        assert (tmp_path / "userauth.db").exists()
        assert not (tmp_path / "a.db").exists()

        design = subprocess.run(
            [sys.executable, "-c", "from db import DB; DB().add_user('x', 'y')"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
            capture_output=True,
            timeout=60,
        )
        assert design.returncode == 0

        serve.start()
        assert requests.post(f"{serve.url}/sessions", data=account, timeout=10).status_code == 200

    def test_a_service_a_db_is_served_and_the_notice_logged(
        self, serve: ServerProcess, tmp_path: Path
    ) -> None:
        userauth_db_upgrade(tmp_path, "sqlite:///a.db")
        serve.start()
        account = {"email": "ann@example.com", "password": "b4l0u-b4l0u"}
        assert requests.post(f"{serve.url}/users", data=account, timeout=10).status_code == 200
        output = serve.stop()
        assert "found at a.db, the old default" in output
        assert not (tmp_path / "userauth.db").exists()
        with sqlite3.connect(tmp_path / "a.db") as connection:
            emails = connection.execute("SELECT email FROM users").fetchall()
        assert emails == [("ann@example.com",)]
