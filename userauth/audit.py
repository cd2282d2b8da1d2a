"""The audit trail: who asked (Client), and appending what happened to an account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from userauth.db import DB

MAX_USER_AGENT_LENGTH = 512
MAX_ADDRESS_LENGTH = 64
# Longer than any list of languages a browser sends; the rest is ignored.
MAX_ACCEPT_LANGUAGE_LENGTH = 256


def _printable(text: str) -> str:
    return "".join(character for character in text if character.isprintable())


@dataclass(frozen=True)
class Client:
    """Who is asking: recorded on sessions and audit events; the languages it reads (its
    Accept-Language, as sent) go with the mail it makes us send (outbox.py)."""

    address: str = ""
    user_agent: str = ""
    accept_language: str = ""

    def __post_init__(self) -> None:
        # Headers are client-controlled: drop control characters (PostgreSQL refuses NUL)
        # and cap the lengths to the columns'.
        object.__setattr__(self, "address", _printable(self.address)[:MAX_ADDRESS_LENGTH])
        object.__setattr__(self, "user_agent", _printable(self.user_agent)[:MAX_USER_AGENT_LENGTH])
        if self.accept_language:
            accepted = _printable(self.accept_language[:MAX_ACCEPT_LANGUAGE_LENGTH])
            object.__setattr__(self, "accept_language", accepted)

    def language_only(self) -> Client:
        """Return this client with its languages alone: for a job whose mail its owner reads
        (an account's notice), which keeps no address or User-Agent of the asker."""
        return Client(accept_language=self.accept_language)


NO_CLIENT = Client()


class Audit:
    """Append audit events; they never hold a password, token or session id."""

    def __init__(self, db: DB, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def record(
        self, event: str, user_id: int | None, client: Client = NO_CLIENT, email: str | None = None
    ) -> None:
        """Append one event about an account (None: no account, or an unknown email).

        The account's email is stored with the event (looked up when not given), so the
        trail still names the account after it is deleted.
        """
        self._db.add_audit_event(
            event,
            user_id,
            email=email,
            client_address=client.address,
            user_agent=client.user_agent,
            created_at=self._clock(),
        )
