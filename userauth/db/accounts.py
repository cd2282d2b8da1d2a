"""Accounts at rest: users, look-ups by email or id, password hashes, disabled state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound

from userauth.db.base import Store, end_sessions, rerun_once_if_disconnected, void_secrets
from userauth.db.broadcast import announce
from userauth.db.one_time import spend_secret
from userauth.errors import EmailTakenError, UnknownFieldError
from userauth.models import User, disabled_users_table, users_table

_users = users_table.c
_SELECT_USER = select(users_table)


def _enabled(user_id: Any) -> Any:
    """The SQL condition: no administrator disabled this account."""
    disabled = disabled_users_table.c
    return ~select(disabled.user_id).where(disabled.user_id == user_id).exists()


def as_user(row: Row[Any] | None) -> User | None:
    """The User of a row of `users` (every column selected), or None for no row."""
    return None if row is None else User(**row._mapping)


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
        try:
            with self._transaction() as work:
                new_user = insert(users_table).values(email=email, hashed_password=hashed_password)
                user_id: int = work.execute(new_user.returning(_users.id)).scalar_one()
        except IntegrityError:
            raise EmailTakenError(email) from None
        if isinstance(hashed_password, str):
            hashed_password = hashed_password.encode("ascii", errors="replace")
        return User(id=user_id, email=email, hashed_password=hashed_password)

    @rerun_once_if_disconnected
    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every filter.

        Raises:
            NoResultFound: no user matches.
            InvalidRequestError: a keyword is not a column.
        """
        self._check_columns(kwargs, InvalidRequestError)
        with self._connect() as connection:
            user = as_user(connection.execute(_SELECT_USER.filter_by(**kwargs).limit(1)).first())
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
            with self._transaction() as work:
                work.execute(update(users_table).where(_users.id == user.id).values(**kwargs))
                # Any column may be one a session check reads (email, hash, session_id).
                announce(work, user.id)
        except IntegrityError:
            raise EmailTakenError(str(kwargs.get("email", ""))) from None

    @staticmethod
    def _check_columns(kwargs: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(kwargs) - set(_users.keys()))
        if unknown:
            raise error(f"not a user attribute: {', '.join(unknown)}")

    # Accounts.

    @rerun_once_if_disconnected
    def find_user_by_email(self, email: str, *, enabled_only: bool = False) -> User | None:
        """Return the user with this email, compared case-insensitively, or None.

        With `enabled_only`, a disabled account is not found (one query either way).
        """
        statement = _SELECT_USER.where(func.lower(_users.email) == email.lower())
        if enabled_only:
            statement = statement.where(_enabled(_users.id))
        with self._connect() as connection:
            return as_user(connection.execute(statement).first())

    @rerun_once_if_disconnected
    def find_enabled_user(self, user_id: int) -> User | None:
        """Return the user with this id unless it is disabled or gone."""
        statement = _SELECT_USER.where(_users.id == user_id, _enabled(_users.id))
        with self._connect() as connection:
            return as_user(connection.execute(statement).first())

    @rerun_once_if_disconnected
    def upgrade_password_hash(self, user_id: int, old: bytes, new: bytes) -> None:
        """Replace a user's hash by a costlier one of the same password, unless it changed
        meanwhile (a concurrent reset must not be undone by a login's upgrade)."""
        with self._transaction() as work:
            work.execute(
                update(users_table)
                .where(_users.id == user_id, _users.hashed_password == old)
                .values(hashed_password=new)
            )
            announce(work, user_id)

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
            with self._transaction() as work:
                result = work.execute(
                    update(users_table)
                    .where(_users.id == user_id)
                    .values(hashed_password=hashed_password)
                )
                if not result.rowcount:
                    return False
                if spend is not None and not spend_secret(work, spend):
                    raise _SecretSpentError  # rolls the new hash back
                void_secrets(work, user_id)
                end_sessions(work, user_id, keep=keep_session)
        except _SecretSpentError:
            return False
        return True

    # Disabled accounts.

    @rerun_once_if_disconnected
    def is_disabled(self, user_id: int) -> bool:
        """Tell whether an administrator disabled this account."""
        disabled = disabled_users_table.c
        statement = select(disabled.user_id).where(disabled.user_id == user_id)
        with self._connect() as connection:
            return connection.execute(statement).first() is not None
