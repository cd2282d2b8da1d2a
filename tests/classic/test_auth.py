"""The design's `auth.py`: `_hash_password`, `_generate_uuid` and `Auth` (docs/design.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from unittest.mock import MagicMock, patch

import bcrypt
import pytest
from sqlalchemy.exc import NoResultFound

import auth
import db
import user

MakeAuth = Callable[[], auth.Auth]
EMAIL = "ann@example.com"
PASSWORD = "b4l0u"


@pytest.fixture
def service(make_auth: MakeAuth) -> auth.Auth:
    return make_auth()


@pytest.fixture
def ann(service: auth.Auth) -> user.User:
    return service.register_user(EMAIL, PASSWORD)


class TestHashPassword:
    def test_returns_salted_bcrypt_bytes_of_the_password(self) -> None:
        hashed = auth._hash_password(PASSWORD)
        assert isinstance(hashed, bytes)
        assert bcrypt.checkpw(PASSWORD.encode(), hashed)
        assert hashed != auth._hash_password(PASSWORD)

    def test_a_password_over_72_bytes_is_hashed_on_its_first_72_as_the_design_did(self) -> None:
        hashed = auth._hash_password("x" * 100)
        assert bcrypt.checkpw(b"x" * 72, hashed)

    @pytest.mark.parametrize("password", [PASSWORD, "q" * 80], ids=["short", "over-72-bytes"])
    def test_patching_auth_bcrypt_hashpw_takes_effect(self, password: str) -> None:
        with (
            patch("auth.bcrypt.gensalt", return_value=b"salt"),
            patch("auth.bcrypt.hashpw", return_value=b"patched") as hashpw,
        ):
            assert auth._hash_password(password) == b"patched"
        hashpw.assert_called_once_with(password.encode(), b"salt")


class TestGenerateUuid:
    def test_returns_the_string_of_a_new_uuid4(self) -> None:
        value = auth._generate_uuid()
        assert str(uuid.UUID(value, version=4)) == value
        assert value != auth._generate_uuid()

    def test_patching_auth_uuid_uuid4_takes_effect(self) -> None:
        fixed = uuid.UUID("12345678-1234-4234-8234-123456789012")
        with patch("auth.uuid.uuid4", return_value=fixed):
            assert auth._generate_uuid() == str(fixed)


class TestConstructor:
    def test_holds_a_db_of_its_own(self, service: auth.Auth) -> None:
        assert isinstance(service._db, db.DB)

    def test_patching_auth_db_takes_effect(self) -> None:
        with patch("auth.DB") as fake_db:
            service = auth.Auth()
        assert service._db is fake_db.return_value

    def test_uses_only_the_public_methods_of_db(self) -> None:
        with patch("auth.DB") as fake_db:
            fake_db.return_value.find_user_by.side_effect = NoResultFound
            service = auth.Auth()
            service.register_user(EMAIL, PASSWORD)
        called = [name for name, _args, _kwargs in fake_db.return_value.method_calls]
        assert called == ["find_user_by", "add_user"]


class TestRegisterUser:
    def test_returns_the_user_with_a_bcrypt_hash(self, service: auth.Auth) -> None:
        made = service.register_user(EMAIL, PASSWORD)
        assert (made.id, made.email) == (1, EMAIL)
        assert isinstance(made.hashed_password, bytes)
        assert bcrypt.checkpw(PASSWORD.encode(), made.hashed_password)

    def test_a_taken_email_raises_value_error_naming_it(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        with pytest.raises(ValueError, match=f"^User {EMAIL} already exists$"):
            service.register_user(EMAIL, "other")

    @pytest.mark.parametrize(
        "other",
        ["ANN@example.com", "ann@EXAMPLE.COM", " ann@example.com", "ann@example.com "],
        ids=["upper-local", "upper-domain", "leading-space", "trailing-space"],
    )
    def test_emails_are_compared_exactly(
        self, service: auth.Auth, ann: user.User, other: str
    ) -> None:
        assert service.register_user(other, PASSWORD).id == 2

    @pytest.mark.parametrize(
        ("email", "password"),
        [("test@test", PASSWORD), (EMAIL, ""), ("no email at all", "x"), (EMAIL, "é" * 50)],
        ids=["no-dot-domain", "empty-password", "not-an-email", "long-unicode-password"],
    )
    def test_accepts_what_the_design_accepts(
        self, service: auth.Auth, email: str, password: str
    ) -> None:
        service.register_user(email, password)
        assert service.valid_login(email, password)


class TestValidLogin:
    def test_true_for_the_right_password(self, service: auth.Auth, ann: user.User) -> None:
        assert service.valid_login(EMAIL, PASSWORD) is True

    @pytest.mark.parametrize(
        ("email", "password"),
        [(EMAIL, "wrong"), ("nobody@example.com", PASSWORD), ("Ann@example.com", PASSWORD)],
        ids=["wrong-password", "unknown-email", "other-case"],
    )
    def test_false_otherwise(
        self, service: auth.Auth, ann: user.User, email: str, password: str
    ) -> None:
        assert service.valid_login(email, password) is False

    def test_patching_auth_bcrypt_checkpw_takes_effect(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        with patch("auth.bcrypt.checkpw", return_value=True):
            assert service.valid_login(EMAIL, "anything") is True


class TestCreateSession:
    def test_stores_the_session_id_in_clear(self, service: auth.Auth, ann: user.User) -> None:
        session_id = service.create_session(EMAIL)
        assert ann.session_id == session_id
        assert service._db.find_user_by(session_id=session_id) is ann

    def test_returns_a_uuid4_string(self, service: auth.Auth, ann: user.User) -> None:
        session_id = service.create_session(EMAIL)
        assert session_id is not None
        assert str(uuid.UUID(session_id, version=4)) == session_id

    def test_a_second_session_replaces_the_first(self, service: auth.Auth, ann: user.User) -> None:
        first = service.create_session(EMAIL)
        second = service.create_session(EMAIL)
        assert service.get_user_from_session_id(first) is None
        assert service.get_user_from_session_id(second) is ann

    def test_returns_none_for_an_unknown_email(self, service: auth.Auth) -> None:
        assert service.create_session("nobody@example.com") is None

    def test_the_session_id_comes_from_auth_uuid_uuid4(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        fixed = uuid.UUID("12345678-1234-4234-8234-123456789012")
        with patch("auth.uuid.uuid4", return_value=fixed):
            assert service.create_session(EMAIL) == str(fixed)
        assert ann.session_id == str(fixed)


class TestGetUserFromSessionId:
    def test_a_value_written_through_update_user_works(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        service._db.update_user(ann.id, session_id="abc")
        assert service.get_user_from_session_id("abc") is ann

    @pytest.mark.parametrize("session_id", [None, "", "unknown"], ids=["none", "empty", "unknown"])
    def test_returns_none_without_a_match(
        self, service: auth.Auth, ann: user.User, session_id: str | None
    ) -> None:
        assert service.get_user_from_session_id(session_id) is None


class TestDestroySession:
    def test_the_session_id_becomes_none(self, service: auth.Auth, ann: user.User) -> None:
        session_id = service.create_session(EMAIL)
        service.destroy_session(ann.id)
        assert ann.session_id is None
        assert service.get_user_from_session_id(session_id) is None

    def test_an_unknown_id_raises_no_result_found(self, service: auth.Auth) -> None:
        with pytest.raises(NoResultFound):
            service.destroy_session(7)

    def test_other_users_stay_logged_in(self, service: auth.Auth, ann: user.User) -> None:
        service.register_user("bob@example.com", PASSWORD)
        bob_session = service.create_session("bob@example.com")
        service.create_session(EMAIL)
        service.destroy_session(ann.id)
        assert service.get_user_from_session_id(bob_session) is not None


class TestGetResetPasswordToken:
    def test_stores_the_token_in_clear(self, service: auth.Auth, ann: user.User) -> None:
        token = service.get_reset_password_token(EMAIL)
        assert str(uuid.UUID(token, version=4)) == token
        assert ann.reset_token == token
        assert service._db.find_user_by(reset_token=token) is ann

    def test_raises_value_error_for_an_unknown_email(self, service: auth.Auth) -> None:
        with pytest.raises(ValueError) as raised:  # noqa: PT011 - the design's bare ValueError
            service.get_reset_password_token("nobody@example.com")
        # Raised while handling NoResultFound, as the design's traceback shows.
        assert isinstance(raised.value.__context__, NoResultFound)


class TestUpdatePassword:
    def test_sets_the_new_hash_and_spends_the_token(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        token = service.get_reset_password_token(EMAIL)
        service.update_password(token, "new")
        assert ann.reset_token is None
        assert service.valid_login(EMAIL, "new")
        assert not service.valid_login(EMAIL, PASSWORD)

    def test_a_token_written_through_update_user_works(
        self, service: auth.Auth, ann: user.User
    ) -> None:
        service._db.update_user(ann.id, reset_token="xyz")
        service.update_password("xyz", "new")
        assert service.valid_login(EMAIL, "new")

    def test_the_session_keeps_working(self, service: auth.Auth, ann: user.User) -> None:
        session_id = service.create_session(EMAIL)
        service.update_password(service.get_reset_password_token(EMAIL), "new")
        assert service.get_user_from_session_id(session_id) is ann

    @pytest.mark.parametrize("token", [None, "", "unknown"], ids=["none", "empty", "unknown"])
    def test_raises_value_error_without_a_match_and_changes_nothing(
        self, service: auth.Auth, ann: user.User, token: str | None
    ) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - the design raises a bare ValueError
            service.update_password(token, "new")  # type: ignore[arg-type]
        assert service.valid_login(EMAIL, PASSWORD)

    def test_a_token_works_once(self, service: auth.Auth, ann: user.User) -> None:
        token = service.get_reset_password_token(EMAIL)
        service.update_password(token, "new")
        with pytest.raises(ValueError):  # noqa: PT011 - the design raises a bare ValueError
            service.update_password(token, "newer")

    def test_hashes_through_auth_bcrypt_hashpw(self, service: auth.Auth, ann: user.User) -> None:
        token = service.get_reset_password_token(EMAIL)
        fake: MagicMock
        with patch("auth.bcrypt.hashpw", return_value=b"patched") as fake:
            service.update_password(token, "new")
        assert fake.call_args.args[0] == b"new"
        assert ann.hashed_password == b"patched"
