"""Settings from a file (USERAUTH_CONFIG, else ./.env) under the environment, and the SQLite
file a command uses, named by its absolute path, wherever the command is run from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_BCRYPT_ROUNDS
from userauth.settings import Settings, SettingsError

EMAIL = "alice@example.com"


def userauth_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `userauth ARGS` in `folder`, with no setting of the caller's; keywords add some."""
    environment = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith("USERAUTH_") and name != "DATABASE_URL"
        },
        "USERAUTH_BCRYPT_ROUNDS": TEST_BCRYPT_ROUNDS,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "userauth", *args],
        cwd=folder,
        env=environment,
        input="a long enough password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestSettingsFile:
    def test_settings_come_from_the_file_userauth_config_names(self, tmp_path: Path) -> None:
        config = write(tmp_path / "env", "USERAUTH_PORT=5123\nUSERAUTH_BCRYPT_ROUNDS=5\n")

        settings = Settings.from_env({"USERAUTH_CONFIG": str(config)})

        assert (settings.server.port, settings.security.bcrypt_rounds) == (5123, 5)
        assert settings.settings_file == str(config)

    def test_the_environment_wins_over_the_file(self, tmp_path: Path) -> None:
        config = write(tmp_path / "env", "USERAUTH_PORT=5123\n")

        settings = Settings.from_env({"USERAUTH_CONFIG": str(config), "USERAUTH_PORT": "6000"})

        assert settings.server.port == 6000

    def test_comments_export_and_quotes_are_read_and_a_dollar_is_kept(
        self, tmp_path: Path
    ) -> None:
        config = write(
            tmp_path / "env",
            "# the mail server\n"
            "export USERAUTH_SMTP_HOST=smtp.example.com  # ours\n"
            "\n"
            "USERAUTH_SMTP_PASSWORD='pa$$word with spaces'\n"
            'USERAUTH_MAIL_FROM="Accounts <accounts@example.com>"\n',
        )

        settings = Settings.from_env({"USERAUTH_CONFIG": str(config)})

        assert settings.mail.smtp_host == "smtp.example.com"
        assert settings.mail.smtp_password == "pa$$word with spaces"
        assert settings.mail.sender == "Accounts <accounts@example.com>"

    @pytest.mark.parametrize(
        ("text", "refusal"),
        [
            ("USERAUTH_ENV=production\nthis is not a setting\n", "line 2"),
            ("USERAUTH_ENV\n", "USERAUTH_ENV has no value"),
        ],
        ids=["not-key-value", "key-without-value"],
    )
    def test_a_line_that_is_not_a_setting_stops_start_up_naming_the_file(
        self, tmp_path: Path, text: str, refusal: str
    ) -> None:
        # Skipped, the line could be the one that asked for production.
        config = write(tmp_path / "env", text)

        with pytest.raises(SettingsError) as refused:
            Settings.from_env({"USERAUTH_CONFIG": str(config)})

        assert str(config) in str(refused.value)
        assert refusal in str(refused.value)

    def test_a_missing_file_stops_start_up_naming_it(self, tmp_path: Path) -> None:
        missing = tmp_path / "nowhere" / "env"

        with pytest.raises(SettingsError, match="cannot read the settings file") as refused:
            Settings.from_env({"USERAUTH_CONFIG": str(missing)})

        assert str(missing) in str(refused.value)

    def test_a_dot_env_in_the_working_folder_is_read_by_a_command(self, tmp_path: Path) -> None:
        database = tmp_path / "from-dot-env.db"
        write(tmp_path / ".env", f"DATABASE_URL=sqlite:///{database}\n")

        created = userauth_in(tmp_path, "db", "upgrade")

        assert created.returncode == 0, created.stderr
        assert created.stderr.splitlines()[:2] == [
            f"settings file: {tmp_path / '.env'}",
            f"database: sqlite:///{database}",
        ]
        assert database.is_file()


class TestDatabaseFromAnotherFolder:
    def test_a_command_names_the_sqlite_file_by_its_absolute_path(self, tmp_path: Path) -> None:
        listed = userauth_in(tmp_path, "user", "list")

        assert listed.returncode == 1
        assert listed.stderr.splitlines() == [
            f"database: sqlite:///{tmp_path / 'userauth.db'}",
            f"Error: no database at {tmp_path / 'userauth.db'}: nothing to read (`userauth db "
            "upgrade` creates it; DATABASE_URL names another)",
        ]

    def test_a_command_run_elsewhere_with_the_servers_settings_file_finds_its_accounts(
        self, tmp_path: Path
    ) -> None:
        server_folder, elsewhere = tmp_path / "state", tmp_path / "home"
        server_folder.mkdir()
        elsewhere.mkdir()
        # As the systemd unit runs it: in its state folder, on the default file there.
        created = userauth_in(server_folder, "user", "create", EMAIL)
        assert created.returncode == 0, created.stderr
        database = server_folder / "userauth.db"
        config = write(tmp_path / "env", f"DATABASE_URL=sqlite:///{database}\n")

        listed = userauth_in(elsewhere, "user", "list", USERAUTH_CONFIG=str(config))

        assert listed.returncode == 0, listed.stderr
        assert listed.stderr.splitlines() == [
            f"settings file: {config}",
            f"database: sqlite:///{database}",
        ]
        assert EMAIL in listed.stdout
        assert not (elsewhere / "userauth.db").exists()
