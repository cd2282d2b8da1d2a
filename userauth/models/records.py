"""The plain, frozen records the store hands out for rows it reads (no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row


@dataclass(frozen=True)
class User:
    """An account as read from `users`: id, email, bcrypt hash, newest session's digest."""

    id: int
    email: str
    hashed_password: bytes = field(repr=False)
    session_id: str | None = field(default=None, repr=False)
    credential_version: int = 1
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        """Whether the owner proved the address theirs."""
        return self.email_verified_at is not None


@dataclass(frozen=True)
class DeviceSession:
    """A device session as read from `sessions` (its clocks as the database returns them)."""

    id: int
    user_id: int
    id_digest: str = field(repr=False)
    public_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str = ""
    client_address: str = ""
    amr: str = "pwd"
    aal: int = 1
    authenticated_at: datetime | None = None


@dataclass(frozen=True)
class NewSession:
    """A device session to store: a DeviceSession before the database gives it an id."""

    user_id: int
    id_digest: str = field(repr=False)
    public_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    client_address: str
    # RFC 8176 methods, space-separated; NIST SP 800-63B level; last authentication's time.
    amr: str
    aal: int
    authenticated_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    """An audit event as read from `audit_events`."""

    id: int
    user_id: int | None
    event: str
    email: str | None
    client_address: str
    user_agent: str
    created_at: datetime


RecordT = TypeVar("RecordT", User, DeviceSession, AuditEvent)


def record(kind: type[RecordT], row: Row[Any]) -> RecordT:
    """Build a record from a row that holds a column of each of its fields' names.

    Raises:
        AttributeError: the row lacks one of the record's fields.
    """
    return kind(**{attribute.name: getattr(row, attribute.name) for attribute in fields(kind)})
