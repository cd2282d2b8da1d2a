"""Passkeys on an account: listing, renaming, removing, and the account's user handle.

Removing a passkey is a credential change (db.change_credentials) and needs a recent
authentication (reauthentication.py; OWASP Multifactor Authentication cheat sheet, "changing
factors"). Registering one is a WebAuthn ceremony: passkey_registrations.py. This module needs
no py_webauthn (passkey_terms.py says why).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from userauth.audit import Audit, Client
from userauth.db import DB, LiveSession, StoredPasskey
from userauth.errors import LastCredentialError, PasskeyNotFoundError
from userauth.passkey_terms import MAX_NAME_LENGTH, new_handle
from userauth.reauthentication import Reauthentication


class Passkeys:
    """List, rename and remove the passkeys of a logged-in account (passkey_registrations.py
    registers them)."""

    def __init__(
        self,
        db: DB,
        reauthentication: Reauthentication,
        audit: Audit,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._reauth = reauthentication
        self._audit = audit
        self._clock = clock

    def handle_of(self, user_id: int) -> str:
        """Return the account's user handle, made (random) and stored on its first ceremony:
        every ceremony of an account names the same handle, even two begun in parallel
        before its first passkey (WebAuthn Level 3 14.6.1: random, not the email or id)."""
        return self._db.passkey_handle(user_id) or self._db.ensure_passkey_handle(
            user_id, new_handle()
        )

    def list(self, user_id: int) -> Sequence[StoredPasskey]:
        """Return the account's passkeys, oldest first."""
        return self._db.passkeys_of(user_id)

    def rename(self, live: LiveSession, passkey_id: int, name: str, client: Client) -> None:
        """Rename one of the account's passkeys.

        Raises:
            PasskeyNotFoundError: the account has no passkey with this id.
        """
        if not _is_row_id(passkey_id) or not self._db.rename_passkey(
            live.user_id, passkey_id, name[:MAX_NAME_LENGTH]
        ):
            raise PasskeyNotFoundError
        self._audit.record("passkey_renamed", live.user_id, client)

    def remove(self, live: LiveSession, passkey_id: int, client: Client) -> None:
        """Remove one of the account's passkeys; other sessions end.

        Raises:
            ReauthenticationRequiredError: the session's last authentication is too old.
            PasskeyNotFoundError: the account has no passkey with this id.
            LastCredentialError: it is the account's last way to log in (no password).
        """
        self._reauth.require_recent(live)
        if not _is_row_id(passkey_id):
            raise PasskeyNotFoundError
        removed = self._db.remove_passkey(
            live.user_id,
            passkey_id,
            has_password=bool(live.user.hashed_password),
            keep_session=live.id,
        )
        if removed is None:
            raise LastCredentialError
        if not removed:
            raise PasskeyNotFoundError
        self._audit.record("passkey_removed", live.user_id, client)


def _is_row_id(number: int) -> bool:
    # A path's number past the column's range names no row (PostgreSQL would refuse it).
    return 0 < number < 2**31
