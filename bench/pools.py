"""Prepared logins for wrk, made in a child process so this one never maps their libraries.

The pools of bench/second_factor.py (TOTP accounts and pending logins) and
bench/passkey_login.py (signed passkey answers) load the cryptography library, which a
benchmark process must not map: every server it starts is measured from a page cache
without the cached pages of its virtual environment's shared objects (bench/servers.py), and
the kernel keeps the pages a running process maps. Made here, in this process, the pages
pip's install left cached in large folios stayed, and each worker that decrypted a TOTP seed
or checked a passkey counted about 3.7 MB more of cryptography's library in its peak RSS
(docs/performance.md, "Issue 24: each worker's peak after the second factor and a passkey
login"). A spawned child (not forked: it maps
only what it imports) makes the pool and ends.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor


def second_factor_logins(
    env: Mapping[str, str], accounts: int, password: str, prefix: str
) -> list[str]:
    """Return bench.second_factor.make_pool's lines, made in a child process."""
    return _in_child("bench.second_factor", dict(env), accounts, password, prefix)


def passkey_answers(
    env: Mapping[str, str], url: str, logins: int, password: str, prefix: str
) -> list[str]:
    """Return bench.passkey_login.make_pool's lines, made in a child process."""
    return _in_child("bench.passkey_login", dict(env), url, logins, password, prefix)


def _in_child(module: str, *args: object) -> list[str]:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(_make_pool, module, *args).result()


def _make_pool(module: str, *args: object) -> list[str]:
    lines: list[str] = importlib.import_module(module).make_pool(*args)
    return lines
