"""The design's `user.py`: `Base`, and `User` mapped on table `users` (docs/design.md)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeMeta

from user import Base, User

COLUMNS = [
    "users.id: INTEGER",
    "users.email: VARCHAR(250)",
    "users.hashed_password: VARCHAR(250)",
    "users.session_id: VARCHAR(250)",
    "users.reset_token: VARCHAR(250)",
]


class TestBase:
    def test_user_is_built_by_a_declarative_meta(self) -> None:
        assert type(User) is DeclarativeMeta
        assert type(User).__name__ == "DeclarativeMeta"

    def test_user_is_mapped_on_base(self) -> None:
        assert issubclass(User, Base)
        assert Base.metadata.tables["users"] is User.__table__


class TestUsersTable:
    def test_columns_print_as_in_the_design_in_order(self) -> None:
        printed = ["{}: {}".format(c, c.type) for c in User.__table__.columns]  # noqa: UP032
        assert printed == COLUMNS

    def test_the_table_is_named_users(self) -> None:
        assert User.__tablename__ == "users"

    def test_the_only_index_or_constraint_is_the_primary_key(self) -> None:
        table = User.__table__
        assert table.indexes == set()
        assert [type(c).__name__ for c in table.constraints] == ["PrimaryKeyConstraint"]
        assert [c.name for c in table.primary_key] == ["id"]

    @pytest.mark.parametrize(
        ("name", "nullable"),
        [
            ("email", False),
            ("hashed_password", False),
            ("session_id", True),
            ("reset_token", True),
        ],
    )
    def test_nullability_is_the_designs(self, name: str, nullable: bool) -> None:
        column = User.__table__.columns[name]
        assert column.nullable is nullable
        assert isinstance(column.type, String)
        assert column.type.length == 250


class TestPrintedForms:
    def test_a_user_prints_as_the_default_object_repr(self) -> None:
        user = User(email="bob@example.com", hashed_password="x")
        assert re.fullmatch(r"<user\.User object at 0x[0-9a-f]+>", repr(user))
        assert str(user) == repr(user)

    def test_the_class_lives_in_module_user(self) -> None:
        assert User.__module__ == "user"
        assert User.__name__ == "User"
