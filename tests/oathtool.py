"""TOTP codes from Debian's `oathtool`: a generator independent of the service's pyotp.

A code is made for a given instant (`oathtool -N @EPOCH`), so a test on the fake clock asks for
the clock's own time step, and a browser test for the real one, never sleeping for a step.
"""

from __future__ import annotations

import subprocess
from datetime import datetime

from tests.proxy_servers import need_binary

# RFC 6238's time step, in seconds.
STEP_SECONDS = 30


def totp_code(secret: str, at: datetime) -> str:
    """Return the 6-digit RFC 6238 code (SHA-1, 30 s) of a base32 `secret` at `at`.

    Skips the test locally without oathtool, fails it under CI=true (need_binary).
    """
    tool = need_binary("oathtool")
    made = subprocess.run(
        [tool, "--totp", "--base32", f"--now=@{int(at.timestamp())}", secret.replace(" ", "")],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return made.stdout.strip()
