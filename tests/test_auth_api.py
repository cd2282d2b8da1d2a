"""The service's `Auth` keeps the design's methods and their errors (SPEC.md C).

Session ids and reset tokens are stored as digests (SPEC.md C2), so these tests check what
the API hands out and accepts, never that a column holds the clear value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import bcrypt
import pytest

# The design names this module; SQLAlchemy re-exports the class there without declaring it.
from sqlalchemy.orm.exc import NoResultFound  # type: ignore[attr-defined]

from userauth.auth import Auth
from userauth.db import DB
from userauth.models import User
from userauth.tokens import digest

EMAIL = "bob@example.com"
PASSWORD = "b4l0u"
NEW_PASSWORD = "t4rt1fl3tt3"


def is_uuid4_string(value: object) -> bool:
    """Tell whether a value is the canonical string form of a uuid4."""
    if not isinstance(value, str):
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value


@pytest.fixture
def registered(auth: Auth) -> User:
    return auth.register_user(EMAIL, PASSWORD)


@pytest.fixture
def store(make_db: Callable[[], DB]) -> DB:
    """A second, independent DB on the same database: it sees only what was committed."""
    return make_db()


class TestConstructor:
    def test_users_are_stored_in_the_auths_database(self, auth: Auth, store: DB) -> None:
        auth.register_user(EMAIL, PASSWORD)
        assert store.find_user_by(email=EMAIL).id == 1


class TestRegisterUser:
    def test_returns_the_new_user(self, auth: Auth) -> None:
        created = auth.register_user(EMAIL, PASSWORD)
        assert isinstance(created, User)
        assert (created.id, created.email) == (1, EMAIL)

    def test_stores_a_bcrypt_hash_of_the_password(self, registered: User, store: DB) -> None:
        stored = store.find_user_by(email=EMAIL).hashed_password
        assert PASSWORD not in str(stored)
        assert bcrypt.checkpw(PASSWORD.encode(), stored)

    @pytest.mark.parametrize(
        "email", [EMAIL, "Ada.Lovelace@Example.COM"], ids=["lower-case", "mixed-case"]
    )
    def test_raises_value_error_naming_the_email_when_taken(self, auth: Auth, email: str) -> None:
        auth.register_user(email, PASSWORD)
        with pytest.raises(ValueError, match=rf"^User {re.escape(email)} already exists$"):
            auth.register_user(email, "another password")

    def test_a_taken_email_keeps_its_first_password(self, auth: Auth, registered: User) -> None:
        with pytest.raises(ValueError, match="already exists"):
            auth.register_user(EMAIL, NEW_PASSWORD)
        assert auth.valid_login(EMAIL, PASSWORD)
        assert not auth.valid_login(EMAIL, NEW_PASSWORD)

    def test_second_user_gets_id_2(self, auth: Auth, registered: User) -> None:
        assert auth.register_user("ada@example.com", PASSWORD).id == 2


class TestValidLogin:
    def test_true_for_the_right_password(self, auth: Auth, registered: User) -> None:
        assert auth.valid_login(EMAIL, PASSWORD) is True

    @pytest.mark.parametrize(
        ("email", "password"),
        [
            (EMAIL, NEW_PASSWORD),
            ("nobody@example.com", PASSWORD),
            (EMAIL, ""),
            ("", PASSWORD),
            (EMAIL, PASSWORD.upper()),
            (EMAIL, "x" * 100),
            (EMAIL, "pâté-😀"),
            ("not an email", PASSWORD),
        ],
        ids=[
            "wrong-password",
            "unknown-email",
            "empty-password",
            "empty-email",
            "password-in-other-case",
            "password-over-72-bytes",
            "non-ascii-password",
            "malformed-email",
        ],
    )
    def test_false_never_an_exception_otherwise(
        self, auth: Auth, registered: User, email: str, password: str
    ) -> None:
        assert auth.valid_login(email, password) is False


class TestCreateSession:
    def test_returns_a_uuid_string(self, auth: Auth, registered: User) -> None:
        assert is_uuid4_string(auth.create_session(EMAIL))

    def test_stores_the_session_for_that_user(
        self, auth: Auth, registered: User, store: DB
    ) -> None:
        session_id = auth.create_session(EMAIL)
        assert store.find_user_by(id=registered.id).session_id is not None
        found = auth.get_user_from_session_id(session_id)
        assert found is not None
        assert (found.id, found.email) == (registered.id, EMAIL)

    def test_returns_a_new_id_each_time(self, auth: Auth, registered: User) -> None:
        assert auth.create_session(EMAIL) != auth.create_session(EMAIL)

    def test_returns_none_for_an_unknown_email(self, auth: Auth, registered: User) -> None:
        assert auth.create_session("nobody@example.com") is None


class TestGetUserFromSessionId:
    def test_returns_the_user_of_the_session(self, auth: Auth, registered: User) -> None:
        session_id = auth.create_session(EMAIL)
        found = auth.get_user_from_session_id(session_id)
        assert isinstance(found, User)
        assert found.email == EMAIL

    def test_works_from_another_auth_on_the_same_database(
        self,
        auth: Auth,
        registered: User,
        make_auth: Callable[[], Auth],
    ) -> None:
        session_id = auth.create_session(EMAIL)
        found = make_auth().get_user_from_session_id(session_id)
        assert found is not None
        assert found.id == registered.id

    @pytest.mark.parametrize(
        "session_id",
        [None, str(uuid.uuid4()), "", "not-a-session-id"],
        ids=["none", "unknown-uuid", "empty", "not-a-uuid"],
    )
    def test_returns_none_for_no_or_an_unknown_session(
        self, auth: Auth, registered: User, session_id: str | None
    ) -> None:
        auth.create_session(EMAIL)
        assert auth.get_user_from_session_id(session_id) is None


class TestDestroySession:
    def test_the_session_id_no_longer_gives_the_user(self, auth: Auth, registered: User) -> None:
        session_id = auth.create_session(EMAIL)
        auth.destroy_session(registered.id)
        assert auth.get_user_from_session_id(session_id) is None

    def test_the_users_session_id_becomes_none(
        self, auth: Auth, registered: User, store: DB
    ) -> None:
        auth.create_session(EMAIL)
        result = auth.destroy_session(registered.id)  # type: ignore[func-returns-value]
        assert result is None
        assert store.find_user_by(id=registered.id).session_id is None

    def test_leaves_other_users_logged_in(self, auth: Auth, registered: User) -> None:
        auth.register_user("ada@example.com", PASSWORD)
        other_session = auth.create_session("ada@example.com")
        auth.create_session(EMAIL)
        auth.destroy_session(registered.id)
        found = auth.get_user_from_session_id(other_session)
        assert found is not None
        assert found.email == "ada@example.com"


class TestGetResetPasswordToken:
    def test_returns_a_uuid_string_stored_for_the_user(
        self, auth: Auth, registered: User, store: DB
    ) -> None:
        token = auth.get_reset_password_token(EMAIL)
        assert is_uuid4_string(token)
        # Only its digest is stored, in one_time_secrets: never the token itself.
        with store.engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT digest FROM one_time_secrets").scalars()
            assert list(stored) == [digest(token)]

    def test_a_new_token_replaces_the_older_one(self, auth: Auth, registered: User) -> None:
        older = auth.get_reset_password_token(EMAIL)
        newer = auth.get_reset_password_token(EMAIL)
        assert newer != older
        with pytest.raises(ValueError, match=r"."):
            auth.update_password(older, NEW_PASSWORD)
        auth.update_password(newer, NEW_PASSWORD)

    def test_raises_value_error_for_an_unknown_email(self, auth: Auth, registered: User) -> None:
        with pytest.raises(ValueError, match=r"."):
            auth.get_reset_password_token("nobody@example.com")


class TestUpdatePassword:
    def test_the_new_password_logs_in_and_the_old_one_does_not(
        self, auth: Auth, registered: User
    ) -> None:
        token = auth.get_reset_password_token(EMAIL)
        result = auth.update_password(token, NEW_PASSWORD)  # type: ignore[func-returns-value]
        assert result is None
        assert auth.valid_login(EMAIL, NEW_PASSWORD)
        assert not auth.valid_login(EMAIL, PASSWORD)

    def test_stores_a_bcrypt_hash_of_the_new_password(
        self, auth: Auth, registered: User, store: DB
    ) -> None:
        auth.update_password(auth.get_reset_password_token(EMAIL), NEW_PASSWORD)
        stored = store.find_user_by(id=registered.id).hashed_password
        assert bcrypt.checkpw(NEW_PASSWORD.encode(), stored)

    def test_a_token_works_once(self, auth: Auth, registered: User) -> None:
        token = auth.get_reset_password_token(EMAIL)
        auth.update_password(token, NEW_PASSWORD)
        with pytest.raises(ValueError, match=r"."):
            auth.update_password(token, "a third password")
        assert auth.valid_login(EMAIL, NEW_PASSWORD)

    @pytest.mark.parametrize(
        "token",
        [str(uuid.uuid4()), "", "not-a-token"],
        ids=["unknown-uuid", "empty", "not-a-uuid"],
    )
    def test_raises_value_error_for_an_unknown_token_and_changes_nothing(
        self, auth: Auth, registered: User, token: str
    ) -> None:
        auth.get_reset_password_token(EMAIL)
        with pytest.raises(ValueError, match=r"."):
            auth.update_password(token, NEW_PASSWORD)
        assert auth.valid_login(EMAIL, PASSWORD)

    def test_the_user_is_still_found_by_id(self, auth: Auth, registered: User, store: DB) -> None:
        auth.update_password(auth.get_reset_password_token(EMAIL), NEW_PASSWORD)
        assert store.find_user_by(id=registered.id).email == EMAIL
        with pytest.raises(NoResultFound):
            store.find_user_by(id=registered.id + 1)
