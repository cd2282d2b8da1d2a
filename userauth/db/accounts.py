"""Accounts at rest: users, look-ups by email or id, password hashes, disabled state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, NoResultFound

from userauth.db.base import (
    Store,
    change_credentials,
    enabled,
    rerun_once_if_disconnected,
)
from userauth.db.one_time import spend_secret
from userauth.emails import lookup_key
from userauth.errors import EmailTakenError, UnknownFieldError
from userauth.models import User, disabled_users_table, record, users_table

_users = users_table.c
_disabled = disabled_users_table.c
_SELECT_USER = select(users_table)
# Written only with `email`, from it: a key set apart from its email would find the wrong account.
_DERIVED = frozenset({"email_key"})


class _SecretSpentError(Exception):
    """Another request spent the secret first: the transaction must roll back."""


class AccountStore(Store):
    """Users, their passwords and disabled state."""

    # add_user, find_user_by and update_user keep the original design's signatures.

    @rerun_once_if_disconnected
    def add_user(self, email: str, hashed_password: str | bytes) -> User:
        """Save a user and return it.

        The user is returned as stored: its hash as bytes (a str hash is stored as text),
        with its email's key (`emails.lookup_key`).

        Raises:
            EmailTakenError: the database already holds an email of the same key.
        """
        new_user = insert(users_table).values(
            email=email, email_key=lookup_key(email), hashed_password=hashed_password
        )
        try:
            with self._transaction() as work:
                row = work.execute(new_user.returning(*users_table.columns)).one()
        except IntegrityError:
            raise EmailTakenError(email) from None
        return record(User, row)

    @rerun_once_if_disconnected
    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every filter.

        Raises:
            NoResultFound: no user matches.
            InvalidRequestError: a keyword is not a column.
        """
        self._check_columns(kwargs, InvalidRequestError)
        user = self._read_user(_SELECT_USER.filter_by(**kwargs).limit(1))
        if user is None:
            raise NoResultFound("No user found")
        return user

    @rerun_once_if_disconnected
    def update_user(self, user_id: int, **kwargs: Any) -> None:
        """Set attributes of the user with this id and commit; a new email gets its key.

        Raises:
            ValueError: a keyword is not a user attribute, or is `email_key`, which only
                follows `email` (nothing is changed).
            EmailTakenError: another user has an email of the same key (nothing is changed).
            NoResultFound: no user has this id.
        """
        self._check_columns(kwargs, UnknownFieldError)
        derived = sorted(_DERIVED & set(kwargs))
        if derived:
            raise UnknownFieldError(f"{', '.join(derived)} is computed from email: set email")
        user = self.find_user_by(id=user_id)
        if not kwargs:
            return
        values = dict(kwargs)
        if "email" in values:
            values["email_key"] = lookup_key(str(values["email"]))
        try:
            with self._transaction() as work:
                work.execute(update(users_table).where(_users.id == user.id).values(**values))
                # Any column may be one a session check reads (email, hash, session_id).
                work.announce(user.id)
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
        """Return the user whose email has the key of this one (`emails.lookup_key`), or None.

        With `enabled_only`, a disabled account is not found (one query either way).
        """
        statement = _SELECT_USER.where(_users.email_key == lookup_key(email))
        if enabled_only:
            statement = statement.where(enabled(_users.id))
        return self._read_user(statement)

    @rerun_once_if_disconnected
    def find_enabled_user(self, user_id: int) -> User | None:
        """Return the user with this id unless it is disabled or gone."""
        return self._read_user(_SELECT_USER.where(_users.id == user_id, enabled(_users.id)))

    def _read_user(self, statement: Select[Any]) -> User | None:
        """Run a select of whole `users` rows; return the first as a User, or None."""
        with self._connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else record(User, row)

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
            work.announce(user_id)

    @rerun_once_if_disconnected
    def replace_password(
        self,
        user_id: int,
        hashed_password: bytes,
        *,
        keep_session: int | None = None,
        spend: int | None = None,
    ) -> bool:
        """Store a new hash: a credential change (base.change_credentials), so one-time
        secrets and pending logins are void and every session but `keep_session` ends.

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
                change_credentials(work, user_id, keep_session=keep_session)
        except _SecretSpentError:
            return False
        return True

    # Disabled accounts.

    @rerun_once_if_disconnected
    def is_disabled(self, user_id: int) -> bool:
        """Tell whether an administrator disabled this account."""
        statement = select(_disabled.user_id).where(_disabled.user_id == user_id)
        with self._connect() as connection:
            return connection.execute(statement).first() is not None
