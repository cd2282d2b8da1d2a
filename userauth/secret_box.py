"""Readable secrets at rest (TOTP seeds now, signing keys later), encrypted with Fernet.

Fernet (the `cryptography` library): AES-128-CBC with HMAC-SHA256, authenticated, with a
timestamp. USERAUTH_ENCRYPTION_KEYS lists Fernet keys, comma-separated: the first encrypts,
every one decrypts (MultiFernet), so keys rotate by putting a new one first and running
`userauth keys reencrypt`, then dropping the old one. Secrets that only need comparing
(passwords, tokens, codes) stay digests: they are never encrypted (OWASP Cryptographic
Storage cheat sheet: encrypt only what must be read back).

Development with no key set uses a generated key kept beside the SQLite file (docs/security.md
"Secrets at rest"): the database keeps working across restarts, and production refuses to
start without USERAUTH_ENCRYPTION_KEYS, so such a key never guards real users' secrets.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from userauth.errors import UnreadableSecretError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

DEVELOPMENT_KEY_SUFFIX = "-encryption-key"


def is_valid_key(key: str) -> bool:
    """Tell whether a text is a Fernet key (32 url-safe base64-encoded bytes)."""
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def load_library() -> None:
    """Import the cryptography library now (server.preload_native_libraries), not on first use."""
    import cryptography.fernet  # noqa: F401 - imported for its side effect: loaded


def new_key() -> str:
    """Return a new random Fernet key (what USERAUTH_ENCRYPTION_KEYS holds)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypt and decrypt readable secrets; the keys are found on first use (no I/O before)."""

    def __init__(self, keys: Callable[[], Sequence[str]]) -> None:
        self._find_keys = keys
        self._fernet: MultiFernet | None = None
        self._lock = threading.Lock()

    def _box(self) -> MultiFernet:
        # Imported on first use (a tool, a test); `userauth serve` loads it before the fork.
        from cryptography.fernet import Fernet, MultiFernet

        with self._lock:
            if self._fernet is None:
                keys = [Fernet(key.encode("ascii")) for key in self._find_keys()]
                self._fernet = MultiFernet(keys)
            return self._fernet

    def seal(self, plaintext: str) -> str:
        """Return the secret encrypted with the first key (a Fernet token, ASCII)."""
        return self._box().encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        """Return the secret a `seal` made.

        Raises:
            UnreadableSecretError: no configured key opens it (or it was altered).
        """
        from cryptography.fernet import InvalidToken

        try:
            return self._box().decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnreadableSecretError from None

    def reseal(self, sealed: str) -> str:
        """Return the secret encrypted again with the first key (MultiFernet.rotate).

        Raises:
            UnreadableSecretError: no configured key opens it.
        """
        from cryptography.fernet import InvalidToken

        try:
            return self._box().rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise UnreadableSecretError from None


def keys_for(configured: Sequence[str], database_url: str) -> Callable[[], Sequence[str]]:
    """Return how a SecretBox finds its keys: the configured ones, else development's own."""
    if configured:
        return lambda: list(configured)
    return lambda: [development_key(database_url)]


def development_key(database_url: str) -> str:
    """Return development's key for this database, made on first need.

    A SQLite file keeps it beside itself (`<file>-encryption-key`, mode 0600), so the
    database and the key that reads it move together; an in-memory database gets one per
    process (its rows die with it); another database (PostgreSQL in development) keeps it
    in the working folder. Made once with an atomic link, so workers starting together
    agree on one key.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:":
            return _process_key()
        path = Path(database + DEVELOPMENT_KEY_SUFFIX)
    else:
        path = Path("userauth" + DEVELOPMENT_KEY_SUFFIX)
    return _read_or_make(path)


@functools.cache
def _process_key() -> str:
    return new_key()


def _read_or_make(path: Path) -> str:
    if not path.exists():
        handle, draft = tempfile.mkstemp(dir=path.parent or ".", prefix=".key-")
        try:
            os.write(handle, new_key().encode("ascii"))
            os.close(handle)
            os.chmod(draft, 0o600)
            # Fails if another process made it first: theirs is the key.
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text(encoding="ascii").strip()
