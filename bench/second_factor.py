"""The login's second step: accounts with TOTP and their pending logins, made for wrk.

`POST /sessions/second-factor` spends a pending login, and a TOTP code is accepted once per
account (RFC 6238 5.2, replay), so each request needs its own account and pending login.
Both are made through the domain API (Auth), in a child process (bench/pools.py), with
bcrypt at its lowest cost: the password step is not what this scenario measures, and a pool
made at the server's cost would take minutes. A pending login lives 5 minutes, so the pool is made
just before its run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import pyotp

from userauth.auth import Auth
from userauth.settings import Settings

# Cheapest cost bcrypt allows: the pool's own logins, never the server's.
POOL_BCRYPT_ROUNDS = 4
# Codes written per account, one per 30 s step: the run must start within this many steps.
CODE_STEPS = 20
TOTP_STEP_S = 30


def make_pool(env: Mapping[str, str], accounts: int, password: str, prefix: str) -> list[str]:
    """Enrol TOTP on `accounts` new accounts and start one pending login for each.

    Returns lines for bench/lua/second_factor.lua: `challenge first_step code code ...`,
    the codes of steps `first_step + 1` on (one step ahead stays inside RFC 6238's ±1 step
    window, and is always later than the step the enrolment spent).
    """
    settings = Settings.from_env({**env, "USERAUTH_BCRYPT_ROUNDS": str(POOL_BCRYPT_ROUNDS)})
    auth = Auth.from_settings(settings)
    try:
        emails = [f"{prefix}{number}@bench.example.com" for number in range(accounts)]
        seeds = [_enrol(auth, email, password) for email in emails]
        lines = []
        for email, seed in seeds:
            result = auth.login(email, password)
            assert result.challenge, f"{email}: no pending login"
            lines.append(_line(result.challenge, pyotp.TOTP(seed)))
        return lines
    finally:
        auth.db.close()


def _enrol(auth: Auth, email: str, password: str) -> tuple[str, str]:
    session_id = auth.sign_up_and_log_in(email, password)
    live = auth.require_session(session_id)
    enrolment = auth.begin_totp(live)
    auth.confirm_totp(live, pyotp.TOTP(enrolment.secret).now())
    return email, enrolment.secret


def _line(challenge: str, totp: pyotp.TOTP) -> str:
    step = int(time.time()) // TOTP_STEP_S
    codes = [totp.at((step + ahead) * TOTP_STEP_S) for ahead in range(1, CODE_STEPS + 1)]
    return " ".join([challenge, str(step), *codes])
