"""Tables (SQLAlchemy 2 declarative): the shape of every row userauth stores, and nothing else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Dialect, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    """The declarative base of every userauth table."""


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


class User(Base):
    """An account: its email and password hash; everything else lives in other tables."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(250), nullable=False)
    hashed_password: Mapped[bytes] = mapped_column(PasswordHash(), nullable=False)
    # Digest of the newest session id (SPEC.md C2); the live sessions are in `sessions`.
    session_id: Mapped[str | None] = mapped_column(String(250), nullable=True)

    __table_args__ = (
        # Uniqueness is the database's job, so two concurrent sign-ups cannot both win;
        # lower() makes it case-insensitive on SQLite and PostgreSQL alike.
        Index("uq_users_email_lower", func.lower(email), unique=True),
    )

    def __repr__(self) -> str:
        return f"<User id={self.id} email={self.email!r}>"


class DeviceSession(Base):
    """One logged-in device: the digest of its session id, and its clocks."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    id_digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    user_agent: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    client_address: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class OneTimeSecret(Base):
    """A pending one-time secret (a reset token today): its digest, purpose and expiry.

    Spent by deleting the row, so a secret can be used once however many requests race.
    """

    __tablename__ = "one_time_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEvent(Base):
    """Something that happened to an account; never holds a password, token or session id."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    # The account's email when the event was recorded: it outlives a deleted account.
    email: Mapped[str | None] = mapped_column(String(250), nullable=True)
    client_address: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


class DisabledUser(Base):
    """An account an administrator has disabled: it cannot log in."""

    __tablename__ = "disabled_users"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    disabled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class MailJob(Base):
    """A mail still to send: what to send to which email, never a token (issued when sent).

    Claimed by one worker at a time (claimed_until is its lease); deleted once sent or
    given up, postponed (due_at) after a failure.
    """

    __tablename__ = "mail_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    email: Mapped[str] = mapped_column(String(250), nullable=False)
    client_address: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    user_agent: Mapped[str] = mapped_column(String(512), nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
