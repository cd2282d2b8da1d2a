"""The design's `auth` module: `Auth`, the account rules over `DB`, and its two helpers.

Exactly the design (docs/design.md): clear session ids and reset tokens at rest, one session
per user, no validation. Not for deployment: the service is the `userauth` package.
"""

import uuid

import bcrypt

# The design imports it from here; SQLAlchemy re-exports it without declaring it.
from sqlalchemy.orm.exc import NoResultFound  # type: ignore[attr-defined]

from db import DB
from user import User

# bcrypt reads 72 bytes at most: the design's bcrypt ignored the rest, bcrypt 5 raises.
BCRYPT_MAX_BYTES = 72


def _hash_password(password: str) -> bytes:
    """Return a salted bcrypt hash of the password."""
    encoded, salt = password.encode(), bcrypt.gensalt()
    try:
        return bcrypt.hashpw(encoded, salt)
    except ValueError:
        if len(encoded) <= BCRYPT_MAX_BYTES:
            raise
        return bcrypt.hashpw(encoded[:BCRYPT_MAX_BYTES], salt)


def _generate_uuid() -> str:
    """Return a new uuid4 as a string."""
    return str(uuid.uuid4())


class Auth:
    """The design's authentication rules, on a `DB()` of its own."""

    def __init__(self) -> None:
        self._db = DB()

    def register_user(self, email: str, password: str) -> User:
        """Store a new user with the bcrypt hash of the password.

        Raises:
            ValueError: a user with exactly this email exists.
        """
        try:
            self._db.find_user_by(email=email)
        except NoResultFound:
            return self._db.add_user(email, _hash_password(password))
        raise ValueError(f"User {email} already exists")

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether the user exists and the password matches its hash."""
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            return False
        # A str hash written through update_user raises TypeError here, as in the design.
        encoded, stored = password.encode(), user.hashed_password
        try:
            return bcrypt.checkpw(encoded, stored)  # type: ignore[arg-type]
        except ValueError:
            if len(encoded) <= BCRYPT_MAX_BYTES:
                raise
            return bcrypt.checkpw(encoded[:BCRYPT_MAX_BYTES], stored)  # type: ignore[arg-type]

    def create_session(self, email: str) -> str | None:
        """Give the user a new session id (replacing any earlier one); None if unknown."""
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            return None
        session_id = _generate_uuid()
        self._db.update_user(user.id, session_id=session_id)
        return session_id

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user holding this session id, or None."""
        if session_id is None:
            return None
        try:
            return self._db.find_user_by(session_id=session_id)
        except NoResultFound:
            return None

    def destroy_session(self, user_id: int) -> None:
        """End the user's session: its `session_id` becomes None.

        Raises:
            NoResultFound: no user has this id.
        """
        self._db.update_user(user_id, session_id=None)

    def get_reset_password_token(self, email: str) -> str:
        """Store a new reset token for the user and return it.

        Raises:
            ValueError: no user has this email.
        """
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            raise ValueError  # noqa: B904 - chained, as the design's traceback shows
        reset_token = _generate_uuid()
        self._db.update_user(user.id, reset_token=reset_token)
        return reset_token

    def update_password(self, reset_token: str, password: str) -> None:
        """Set the password of the user holding this reset token, and spend the token.

        Raises:
            ValueError: no user holds this token.
        """
        if reset_token is None:
            raise ValueError
        try:
            user = self._db.find_user_by(reset_token=reset_token)
        except NoResultFound:
            raise ValueError  # noqa: B904 - chained, as the design's traceback shows
        self._db.update_user(user.id, hashed_password=_hash_password(password), reset_token=None)
