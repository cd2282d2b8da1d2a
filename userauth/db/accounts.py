"""Accounts: the contract's three methods, look-ups, passwords and reset tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound

from userauth.db.base import Store, end_sessions
from userauth.errors import EmailTakenError, UnknownFieldError
from userauth.models import DisabledUser, PasswordReset, User


class AccountStore(Store):
    """Users, their passwords, reset tokens and disabled state."""

    # The contract's three methods.

    def add_user(self, email: str, hashed_password: str | bytes) -> User:
        """Save a user and return it.

        Raises:
            EmailTakenError: the database already holds this email (in any letter case).
        """
        user = User(email=email, hashed_password=hashed_password)
        try:
            with self._transaction() as session:
                session.add(user)
        except IntegrityError:
            raise EmailTakenError(email) from None
        return user

    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every filter.

        Raises:
            NoResultFound: no user matches.
            InvalidRequestError: a keyword is not a column.
        """
        self._check_columns(kwargs, InvalidRequestError)
        with self._sessions() as session:
            user = session.scalars(select(User).filter_by(**kwargs).limit(1)).first()
        if user is None:
            raise NoResultFound("No user found")
        return user

    def update_user(self, user_id: int, **kwargs: Any) -> None:
        """Set attributes of the user with this id and commit.

        Raises:
            ValueError: a keyword is not a user attribute (nothing is changed).
            NoResultFound: no user has this id.
        """
        self._check_columns(kwargs, UnknownFieldError)
        user = self.find_user_by(id=user_id)
        if not kwargs:
            return
        try:
            with self._transaction() as session:
                session.execute(update(User).where(User.id == user.id).values(**kwargs))
        except IntegrityError:
            raise EmailTakenError(str(kwargs.get("email", ""))) from None

    @staticmethod
    def _check_columns(kwargs: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(kwargs) - set(User.__table__.columns.keys()))
        if unknown:
            raise error(f"not a user attribute: {', '.join(unknown)}")

    # Accounts.

    def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email, compared case-insensitively, or None."""
        with self._sessions() as session:
            statement = select(User).where(func.lower(User.email) == email.lower())
            return session.scalars(statement).first()

    def upgrade_password_hash(self, user_id: int, old: bytes, new: bytes) -> None:
        """Replace a user's hash by a costlier one of the same password, unless it changed
        meanwhile (a concurrent reset must not be undone by a login's upgrade)."""
        with self._transaction() as session:
            session.execute(
                update(User)
                .where(User.id == user_id, User.hashed_password == old)
                .values(hashed_password=new)
            )

    def replace_password(
        self,
        user_id: int,
        hashed_password: bytes,
        *,
        keep_session: int | None = None,
        reset_token: str | None = None,
    ) -> bool:
        """Store a new hash, void any reset token and end every session but `keep_session`.

        With `reset_token` (a digest), only while the user still holds that token, so two
        concurrent requests cannot both spend it. Return whether the password was replaced.
        """
        statement = update(User).where(User.id == user_id)
        if reset_token is not None:
            statement = statement.where(User.reset_token == reset_token)
        with self._transaction() as session:
            result = session.execute(
                statement.values(hashed_password=hashed_password, reset_token=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            session.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))
            end_sessions(session, user_id, keep=keep_session)
        return True

    # Reset tokens.

    def set_reset_token(self, user_id: int, token_digest: str, expires_at: datetime) -> None:
        """Store a user's pending reset token, replacing any older one."""
        with self._transaction() as session:
            session.execute(
                update(User).where(User.id == user_id).values(reset_token=token_digest)
            )
            session.merge(PasswordReset(user_id=user_id, expires_at=expires_at))

    def find_reset(self, token_digest: str) -> tuple[User, datetime | None] | None:
        """Return the user holding this reset token and when it expires, or None."""
        statement = (
            select(User, PasswordReset.expires_at)
            .outerjoin(PasswordReset, PasswordReset.user_id == User.id)
            .where(User.reset_token == token_digest)
        )
        with self._sessions() as session:
            row = session.execute(statement).first()
        return None if row is None else (row[0], row[1])

    # Disabled accounts.

    def is_disabled(self, user_id: int) -> bool:
        """Tell whether an administrator disabled this account."""
        with self._sessions() as session:
            return session.get(DisabledUser, user_id) is not None
