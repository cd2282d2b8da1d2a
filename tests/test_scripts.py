"""scripts/install, scripts/serve and scripts/test: an install only when something changed.

Each test runs the scripts in a copy of the checkout whose `.venv/bin/python` runs this
suite's Python, except `python -m pip`, which it only records (and fails when told to): the
tests see what the scripts ask pip for without reaching a package index or changing a venv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

COPIED = ["pyproject.toml", "scripts/install", "scripts/serve", "scripts/test"]
COPIED += ["scripts/local_backends.py"]

FAKE_PYTHON = """#!/bin/sh
if [ "$1 $2" = "-m pip" ]; then
    echo "$*" >>"$(dirname "$0")/../pip-calls"
    [ -z "$FAIL_PIP" ] || exit 1
    exit 0
fi
exec {python} "$@"
"""


class Checkout:
    """A copy of the scripts and pyproject.toml, with a .venv that records pip's calls."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in COPIED:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
        bin_directory = root / ".venv" / "bin"
        bin_directory.mkdir(parents=True)
        fake = bin_directory / "python"
        fake.write_text(FAKE_PYTHON.format(python=sys.executable))
        fake.chmod(0o755)
        (bin_directory / "userauth").symlink_to(Path(sys.executable).parent / "userauth")

    def run(self, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            cwd=self.root,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pip_calls(self) -> list[str]:
        """Return pip's command lines since the last call, and forget them."""
        log = self.root / ".venv" / "pip-calls"
        calls = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return calls


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path)


def installed(calls: list[str]) -> list[str]:
    """Return what the pip calls installed editable (the project, with its extras)."""
    return [call.split(" -e ")[1] for call in calls if " -e " in call]


class TestInstallOnlyWhenChanged:
    def test_serve_installs_nothing_when_nothing_changed(self, checkout: Checkout) -> None:
        assert checkout.run("scripts/install").returncode == 0
        assert installed(checkout.pip_calls()) == [".[test]"]

        served = checkout.run("scripts/serve", "--help")

        assert served.returncode == 0, served.stderr
        assert "Usage:" in served.stdout
        assert checkout.pip_calls() == []

    def test_test_installs_nothing_when_nothing_changed(self, checkout: Checkout) -> None:
        assert checkout.run("scripts/install").returncode == 0
        checkout.pip_calls()

        tested = checkout.run("scripts/test", "--version")

        assert tested.returncode == 0, tested.stderr
        assert checkout.pip_calls() == []

    def test_a_changed_pyproject_is_installed_again(self, checkout: Checkout) -> None:
        assert checkout.run("scripts/install").returncode == 0
        checkout.pip_calls()
        with (checkout.root / "pyproject.toml").open("a") as pyproject:
            pyproject.write("# a dependency changed\n")

        assert checkout.run("scripts/serve", "--help").returncode == 0
        assert installed(checkout.pip_calls()) == ["."]

    def test_an_install_without_the_test_tools_is_completed_for_the_tests(
        self, checkout: Checkout
    ) -> None:
        assert checkout.run("scripts/install", "--no-test").returncode == 0
        assert installed(checkout.pip_calls()) == ["."]

        assert checkout.run("scripts/test", "--version").returncode == 0
        assert installed(checkout.pip_calls()) == [".[test]"]

    def test_a_failed_install_is_tried_again(self, checkout: Checkout) -> None:
        assert checkout.run("scripts/install", FAIL_PIP="yes").returncode != 0
        checkout.pip_calls()

        assert checkout.run("scripts/serve", "--help").returncode == 0
        assert installed(checkout.pip_calls()) == ["."]

    def test_install_itself_always_installs(self, checkout: Checkout) -> None:
        # What .ci/run calls, on a fresh clone and on every run.
        for _ in range(2):
            assert checkout.run("scripts/install").returncode == 0
            assert installed(checkout.pip_calls()) == [".[test]"]
