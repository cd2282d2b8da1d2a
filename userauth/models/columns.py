"""The one MetaData every table joins, and the column kinds the tables share."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Dialect, ForeignKey, Integer, MetaData, String
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class PasswordHash(TypeDecorator[bytes]):
    """A bcrypt hash: stored as text (portable), handed out as bytes (what bcrypt takes)."""

    impl = String(250)
    cache_ok = True

    def process_bind_param(self, value: bytes | str | None, dialect: Dialect) -> str | None:
        if isinstance(value, bytes):
            return value.decode("ascii", errors="replace")
        return value

    def process_result_value(self, value: str | bytes | None, dialect: Dialect) -> bytes | None:
        # SQLite keeps bytes written by the original design as BLOBs; they come back as bytes.
        if value is None or isinstance(value, bytes):
            return value
        return value.encode("ascii", errors="replace")


# What an account made with a passkey alone stores as its hash (passkey_signups.py): no
# password matches it, and the account may set one without giving a current one.
NO_PASSWORD = b""


def user_id_column(*, ondelete: str = "CASCADE", nullable: bool = False) -> Column[int]:
    """Return the indexed `user_id` column of a row that belongs to an account (`users.id`)."""
    owner = ForeignKey("users.id", ondelete=ondelete)
    return Column("user_id", Integer, owner, nullable=nullable, index=True)


def now() -> datetime:
    """Return the current time, timezone-aware (a column's default)."""
    return datetime.now(UTC)


def moment(name: str, *, nullable: bool = False, index: bool | None = None) -> Column[datetime]:
    """Return a timezone-aware timestamp column."""
    return Column(name, DateTime(timezone=True), nullable=nullable, index=index)
