"""Helpers of the second-factor tests: codes from Debian's oathtool, an enrolled account."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime

from flask.testing import FlaskClient

from tests.proxy_servers import need_binary

EMAIL = "totp@example.com"
PASSWORD = "a long enough password"
NEW_PASSWORD = "another long enough password"


def oathtool_code(secret: str, moment: datetime) -> str:
    """Return the RFC 6238 code of a base32 seed at `moment`, computed by oathtool (an
    implementation independent of ours: skipped without it, failed under CI)."""
    oathtool = need_binary("oathtool")
    done = subprocess.run(
        [oathtool, "--totp", "-b", secret, "-N", f"@{int(moment.timestamp())}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Enrolled:
    """An account with TOTP on: its seed and its recovery codes."""

    secret: str
    recovery_codes: list[str]


def sign_up_and_log_in(client: FlaskClient, email: str = EMAIL) -> None:
    client.post("/users", data={"email": email, "password": PASSWORD})
    answer = client.post("/sessions", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.json


def enrol(client: FlaskClient, moment: datetime) -> Enrolled:
    """Turn TOTP on for the client's session, with oathtool's code at `moment`."""
    begun = client.post("/factors/totp")
    assert begun.status_code == 200, begun.json
    secret = begun.json["secret"]  # type: ignore[index]
    confirmed = client.put("/factors/totp", data={"code": oathtool_code(secret, moment)})
    assert confirmed.status_code == 200, confirmed.json
    return Enrolled(secret, confirmed.json["recovery_codes"])  # type: ignore[index]


def password_step(client: FlaskClient, email: str = EMAIL) -> dict[str, object]:
    """Post the password of an account with a second factor; return the answer's body."""
    answer = client.post("/sessions", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 401, answer.json
    body: dict[str, object] = answer.json  # type: ignore[assignment]
    return body
