"""Leaving: deleting one's own account, and exporting what is stored about it (GDPR
articles 17 and 20; docs/account-lifecycle.md).

Deleting removes the account and every row of it in one transaction (db.delete_user_rows:
sessions, factors, pending secrets, queued mail); its audit events stay, for the operator's
trail, but hold a keyed digest (HMAC-SHA-256 under USERAUTH_SECRET_KEY) in place of the
address. The sessions' caches drop the account at once (the store announces the change), so
the gate refuses its sessions from the next request. A notice goes to the address.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from userauth import emails
from userauth.audit import NO_CLIENT, Audit, Client
from userauth.clock import as_utc
from userauth.db import DB, LiveSession
from userauth.enrolment import Enrolment
from userauth.notices import Notices
from userauth.reauthentication import Reauthentication
from userauth.sessions import Sessions
from userauth.settings import Settings

# Development without USERAUTH_SECRET_KEY keys its digests with this (production requires
# the key: settings/production.py).
DEVELOPMENT_KEY = b"userauth development digest key"
DIGEST_PREFIX = "hmac-sha256:"
# Audit events are read in pages of this many for the export.
EXPORT_PAGE = 500


def address_digest(settings: Settings, email: str) -> str:
    """Return the keyed digest that stands for a deleted account's address in the audit
    trail: the same for every spelling of one address (emails.lookup_key), not reversible
    without the key (76 characters, fits the audit columns)."""
    key = (settings.security.secret_key or "").encode() or DEVELOPMENT_KEY
    mac = hmac.new(key, emails.lookup_key(email).encode(), hashlib.sha256).hexdigest()
    return DIGEST_PREFIX + mac


class Leaving:
    """Delete an account at its owner's request, and export it."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        sessions: Sessions,
        enrolment: Enrolment,
        reauthentication: Reauthentication,
        audit: Audit,
        notices: Notices,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._settings = settings
        self._sessions = sessions
        self._enrolment = enrolment
        self._reauthentication = reauthentication
        self._audit = audit
        self._notices = notices
        self._clock = clock

    def delete(self, live: LiveSession, client: Client = NO_CLIENT) -> None:
        """Delete the session's account and everything of it; its audit events keep a digest
        of the address; a notice is mailed to the address.

        Raises:
            ReauthenticationRequiredError: the session's authentication is not recent.
        """
        self._reauthentication.require_recent(live)
        user = live.user
        # Recorded first, so the deletion's own event is among those the digest replaces.
        self._audit.record("account_deleted", user.id, client)
        self._db.delete_user(user.id, audit_email=address_digest(self._settings, user.email))
        self._notices.send_to_address(user.email, "account_deleted", client)

    def export(self, live: LiveSession) -> dict[str, Any]:
        """Return everything stored about the session's account but its secrets: profile,
        sessions (no ids), second factors and passkeys (metadata) and audit events, as
        JSON-ready data.

        Raises:
            ReauthenticationRequiredError: the session's authentication is not recent.
        """
        self._reauthentication.require_recent(live)
        created_at = self._db.account_created_at(live.user_id)
        factors = self._enrolment.list(live.user_id)
        return {
            "profile": {
                "id": live.user_id,
                "email": live.email,
                "email_verified": live.email_verified,
                "email_verified_at": _moment(live.email_verified_at),
                "created_at": _moment(created_at),
            },
            "sessions": [
                {
                    "created_at": _moment(view.created_at),
                    "last_used_at": _moment(view.last_used_at),
                    "expires_at": _moment(view.expires_at),
                    "authenticated_at": _moment(view.authenticated_at),
                    "user_agent": view.user_agent,
                    "device": view.device,
                    "client_address": view.client_address,
                    "factors": list(view.factors),
                    "current": view.current,
                }
                for view in self._sessions.list(live)
            ],
            "factors": [
                {
                    "type": view.type,
                    "created_at": _moment(view.created_at),
                    "last_used_at": _moment(view.last_used_at),
                }
                for view in factors.factors
            ],
            "recovery_codes_left": factors.recovery_codes_left,
            # Metadata only: never the credential id or the public key.
            "passkeys": [
                {
                    "name": passkey.name,
                    "created_at": _moment(passkey.created_at),
                    "last_used_at": _moment(passkey.last_used_at),
                    "backed_up": passkey.backed_up,
                    "transports": list(passkey.transports),
                }
                for passkey in self._db.passkeys_of(live.user_id)
            ],
            "audit_events": self._events(live.user_id),
        }

    def _events(self, user_id: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        while True:
            page = self._db.list_audit_events(
                user_id=user_id, limit=EXPORT_PAGE, offset=len(events)
            )
            events += [
                {
                    "event": event.event,
                    "created_at": _moment(event.created_at),
                    "email": event.email,
                    "client_address": event.client_address,
                    "user_agent": event.user_agent,
                }
                for event in page
            ]
            if len(page) < EXPORT_PAGE:
                return events


def _moment(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()
