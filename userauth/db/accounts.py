"""Accounts at rest: users, look-ups by email or id, password hashes, disabled state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound

from userauth.db.base import Store, end_sessions, rerun_once_if_disconnected, void_secrets
from userauth.db.broadcast import announce
from userauth.db.one_time import spend_secret
from userauth.errors import EmailTakenError, UnknownFieldError
from userauth.models import DisabledUser, User


def _enabled(user_id: Any) -> Any:
    """The SQL condition: no administrator disabled this account."""
    return ~select(DisabledUser.user_id).where(DisabledUser.user_id == user_id).exists()


class _SecretSpentError(Exception):
    """Another request spent the secret first: the transaction must roll back."""


class AccountStore(Store):
    """Users, their passwords and disabled state."""

    # add_user, find_user_by and update_user keep the original design's signatures.

    @rerun_once_if_disconnected
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

    @rerun_once_if_disconnected
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

    @rerun_once_if_disconnected
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
                # Any column may be one a session check reads (email, hash, session_id).
                announce(session, user.id)
        except IntegrityError:
            raise EmailTakenError(str(kwargs.get("email", ""))) from None

    @staticmethod
    def _check_columns(kwargs: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(kwargs) - set(User.__table__.columns.keys()))
        if unknown:
            raise error(f"not a user attribute: {', '.join(unknown)}")

    # Accounts.

    @rerun_once_if_disconnected
    def find_user_by_email(self, email: str, *, enabled_only: bool = False) -> User | None:
        """Return the user with this email, compared case-insensitively, or None.

        With `enabled_only`, a disabled account is not found (one query either way).
        """
        statement = select(User).where(func.lower(User.email) == email.lower())
        if enabled_only:
            statement = statement.where(_enabled(User.id))
        with self._sessions() as session:
            return session.scalars(statement).first()

    @rerun_once_if_disconnected
    def find_enabled_user(self, user_id: int) -> User | None:
        """Return the user with this id unless it is disabled or gone."""
        statement = select(User).where(User.id == user_id, _enabled(User.id))
        with self._sessions() as session:
            return session.scalars(statement).first()

    @rerun_once_if_disconnected
    def upgrade_password_hash(self, user_id: int, old: bytes, new: bytes) -> None:
        """Replace a user's hash by a costlier one of the same password, unless it changed
        meanwhile (a concurrent reset must not be undone by a login's upgrade)."""
        with self._transaction() as session:
            session.execute(
                update(User)
                .where(User.id == user_id, User.hashed_password == old)
                .values(hashed_password=new)
            )
            announce(session, user_id)

    @rerun_once_if_disconnected
    def replace_password(
        self,
        user_id: int,
        hashed_password: bytes,
        *,
        keep_session: int | None = None,
        spend: int | None = None,
    ) -> bool:
        """Store a new hash, void one-time secrets and end every session but `keep_session`.

        With `spend` (a one-time secret's id), only if that secret is still unspent, in the
        same transaction. The users row is written first: a login checking the old hash
        waits for it, or its session is ended by this transaction (see add_session).
        Return whether the password was replaced.
        """
        try:
            with self._transaction() as session:
                result = session.execute(
                    update(User).where(User.id == user_id).values(hashed_password=hashed_password)
                )
                if not result.rowcount:  # type: ignore[attr-defined]
                    return False
                if spend is not None and not spend_secret(session, spend):
                    raise _SecretSpentError  # rolls the new hash back
                void_secrets(session, user_id)
                end_sessions(session, user_id, keep=keep_session)
        except _SecretSpentError:
            return False
        return True

    # Disabled accounts.

    @rerun_once_if_disconnected
    def is_disabled(self, user_id: int) -> bool:
        """Tell whether an administrator disabled this account."""
        with self._sessions() as session:
            return session.get(DisabledUser, user_id) is not None
