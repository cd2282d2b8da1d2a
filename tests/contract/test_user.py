"""SPEC.md A, `user.py`: the declarative base and the users table, column by column."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase

import user

# (attribute, printed as "{column}: {column.type}", nullable) in the contract's order.
USERS_COLUMNS = [
    ("id", "users.id: INTEGER", False),
    ("email", "users.email: VARCHAR(250)", False),
    ("hashed_password", "users.hashed_password: VARCHAR(250)", False),
    ("session_id", "users.session_id: VARCHAR(250)", True),
    ("reset_token", "users.reset_token: VARCHAR(250)", True),
]


class TestBase:
    def test_base_is_a_sqlalchemy_declarative_base(self) -> None:
        assert issubclass(user.Base, DeclarativeBase)

    def test_user_is_mapped_on_base(self) -> None:
        assert issubclass(user.User, user.Base)
        assert user.Base.metadata.tables["users"] is user.User.__table__


class TestUsersTable:
    def test_table_name_is_users(self) -> None:
        assert user.User.__tablename__ == "users"

    def test_columns_print_exactly_as_in_the_contract_in_order(self) -> None:
        printed = ["{}: {}".format(c, c.type) for c in user.User.__table__.columns]  # noqa: UP032
        assert printed == [line for _, line, _ in USERS_COLUMNS]

    def test_table_has_no_other_column(self) -> None:
        assert list(user.User.__table__.columns.keys()) == [name for name, _, _ in USERS_COLUMNS]

    def test_id_is_the_integer_primary_key(self) -> None:
        column = user.User.__table__.columns["id"]
        assert column.primary_key
        assert isinstance(column.type, Integer)
        assert [c.name for c in user.User.__table__.primary_key] == ["id"]

    @pytest.mark.parametrize(
        ("name", "nullable"),
        [(name, nullable) for name, _, nullable in USERS_COLUMNS],
        ids=[name for name, _, _ in USERS_COLUMNS],
    )
    def test_column_nullability_is_the_contracts(self, name: str, nullable: bool) -> None:
        assert user.User.__table__.columns[name].nullable is nullable

    @pytest.mark.parametrize(
        "name",
        ["email", "hashed_password", "session_id", "reset_token"],
        ids=["email", "hashed_password", "session_id", "reset_token"],
    )
    def test_text_columns_are_strings_of_250(self, name: str) -> None:
        column_type = user.User.__table__.columns[name].type
        # A TypeDecorator over String(250) is still a String(250) in the database.
        impl = getattr(column_type, "impl", column_type)
        assert isinstance(impl, String)
        assert impl.length == 250

    @pytest.mark.parametrize(
        "name", [name for name, _, _ in USERS_COLUMNS], ids=[n for n, _, _ in USERS_COLUMNS]
    )
    def test_every_column_is_a_user_attribute(self, name: str) -> None:
        assert hasattr(user.User, name)
