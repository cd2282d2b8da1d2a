"""The passkey login (issue 25): accounts with a passkey and signed answers, made for wrk.

`POST /sessions/passkey` needs an answer signed over a challenge the server issued, and wrk
cannot sign ECDSA; so, just before the run, a child process (bench/pools.py) asks the
domain API for request options (`Auth.passkey_logins.options`: the same challenge row and
login_challenge cookie `POST /sessions/passkey/options` makes) and signs each with the
tests' software authenticator (tests/authenticator.py, written from the WebAuthn spec). wrk
then sends, for each login, `POST /sessions/passkey/options` (measured: the server draws
and stores a new challenge) and `POST /sessions/passkey` with a prepared answer. A challenge
lives 5 minutes, hence made just before. The passkeys keep their counter at 0, as synced
passkeys do, so the answers may arrive in any order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from tests.authenticator import SoftAuthenticator
from userauth.audit import NO_CLIENT
from userauth.auth import Auth
from userauth.passkey_terms import RelyingParty
from userauth.settings import Settings

# Cheapest cost bcrypt allows: the pool's own accounts, never the server's.
POOL_BCRYPT_ROUNDS = 4
# Accounts the prepared logins spread over (one passkey each).
ACCOUNTS = 50


def make_pool(
    env: Mapping[str, str], url: str, logins: int, password: str, prefix: str
) -> list[str]:
    """Register ACCOUNTS accounts with a passkey each; return `logins` lines for
    bench/lua/passkey_login.lua: `cookie <JSON body of POST /sessions/passkey>`."""
    settings = Settings.from_env({**env, "USERAUTH_BCRYPT_ROUNDS": str(POOL_BCRYPT_ROUNDS)})
    auth = Auth.from_settings(settings)
    origin = url.rstrip("/")
    rp = RelyingParty(urlsplit(origin).hostname or "localhost", (origin,))
    device = SoftAuthenticator(backed_up=True, counts=False)
    try:
        for number in range(ACCOUNTS):
            _register(auth, rp, device, f"{prefix}{number}@bench.example.com", password, origin)
        lines = []
        for number in range(logins):
            begun = auth.passkey_logins.options(rp, None)
            options = json.loads(begun.options_json)
            credential = device.credentials[number % ACCOUNTS]
            answer = device.get(options, origin, credential=credential)
            lines.append(f"{begun.cookie} {json.dumps({'credential': answer})}")
        return lines
    finally:
        auth.db.close()


def _register(
    auth: Auth, rp: RelyingParty, device: SoftAuthenticator, email: str, password: str, origin: str
) -> None:
    session_id = auth.sign_up_and_log_in(email, password)
    live = auth.require_session(session_id)
    options = json.loads(auth.passkey_registrations.registration_options(live, rp))
    credential = device.create(options, origin)
    auth.passkey_registrations.register(live, rp, credential, "bench", NO_CLIENT)
