"""What the repository ships for operating userauth: the systemd unit (checked by systemd's own
`systemd-analyze`), the example settings file it reads, the version and its changelog."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from tests.conftest import ROOT
from tests.proxy_servers import need_binary
from userauth.settings import Settings
from userauth.settings.production import serving_problems

UNIT = ROOT / "deploy" / "userauth.service"
EXAMPLE_SETTINGS = ROOT / "deploy" / "userauth.env"
# Where the unit expects the virtual environment (`systemd-analyze verify` checks that the
# command exists, so the test points it at this one's instead).
INSTALLED_COMMAND = "/opt/userauth/bin/userauth"
# systemd-analyze security's exposure: 0.0 is locked down, 10.0 unprotected; 2.0 at most
# (its --threshold is in tenths).
MAX_EXPOSURE_TENTHS = 20


def unit_for_this_machine(folder: Path) -> Path:
    """Copy the unit, its command pointed at this checkout's `userauth`, under its own name."""
    command = Path(sys.executable).with_name("userauth")
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED_COMMAND} serve\n" in text
    copy = folder / UNIT.name
    copy.write_text(text.replace(INSTALLED_COMMAND, str(command)))
    return copy


class TestSystemdUnit:
    def test_systemd_analyze_verify_finds_nothing_to_say(self, tmp_path: Path) -> None:
        analyze = need_binary("systemd-analyze")

        checked = subprocess.run(
            [analyze, "verify", str(unit_for_this_machine(tmp_path))],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        # An unknown or misspelt option is only a warning (exit 0): none is allowed.
        assert (checked.returncode, checked.stderr, checked.stdout) == (0, "", "")

    def test_the_service_is_locked_down(self, tmp_path: Path) -> None:
        analyze = need_binary("systemd-analyze")

        checked = subprocess.run(
            [
                *(analyze, "security", "--offline=yes", f"--threshold={MAX_EXPOSURE_TENTHS}"),
                str(unit_for_this_machine(tmp_path)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert re.search(
            r"Overall exposure level for userauth\.service: \d\.\d OK", checked.stdout
        )

    def test_the_unit_keeps_state_in_its_state_directory_and_reads_the_settings_file(
        self,
    ) -> None:
        lines = set(UNIT.read_text().splitlines())

        assert {
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "StateDirectory=userauth",
            "WorkingDirectory=/var/lib/userauth",
            "Environment=USERAUTH_CONFIG=/etc/userauth/env",
        } <= lines


class TestExampleSettings:
    def test_it_is_production_on_the_state_directory_and_refuses_to_start_until_the_key_is_set(
        self,
    ) -> None:
        settings = Settings.from_env({"USERAUTH_CONFIG": str(EXAMPLE_SETTINGS)})

        assert settings.is_production
        assert settings.database.url == "sqlite:////var/lib/userauth/userauth.db"
        assert settings.server.host == "127.0.0.1"
        encryption, secret = serving_problems(settings)
        assert encryption.startswith("USERAUTH_ENCRYPTION_KEYS must be set in production")
        assert secret.startswith("USERAUTH_SECRET_KEY must be set in production")


class TestVersion:
    def test_the_command_the_package_and_the_changelog_name_one_version(self) -> None:
        shown = subprocess.run(
            [sys.executable, "-m", "userauth", "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        changelog = (ROOT / "CHANGELOG.md").read_text()
        latest = re.search(r"^## \[?(\d+\.\d+\.\d+)\]?", changelog, re.MULTILINE)

        assert latest is not None
        assert shown == f"userauth, version {version('userauth')}\n"
        assert latest.group(1) == version("userauth")
