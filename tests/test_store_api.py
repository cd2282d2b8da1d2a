"""The service's store keeps the design's `DB` methods, on a database it keeps (SPEC.md C1).

`add_user`, `find_user_by` and `update_user` answer as the design's do; unlike the design,
a new store finds what earlier ones saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest
import sqlalchemy.exc

# The design names this module; SQLAlchemy re-exports the class there without declaring it.
from sqlalchemy.orm.exc import NoResultFound  # type: ignore[attr-defined]

from userauth.db import DB
from userauth.models import User

MakeDB = Callable[[], DB]


def _columns(found: User) -> dict[str, Any]:
    return {attribute.name: getattr(found, attribute.name) for attribute in fields(User)}


class TestConstructor:
    def test_db_creates_the_users_table(self, make_db: MakeDB) -> None:
        store = make_db()
        with pytest.raises(NoResultFound):
            store.find_user_by(id=1)

    def test_a_new_db_on_the_same_database_finds_earlier_users(self, make_db: MakeDB) -> None:
        saved = make_db().add_user("bob@example.com", "hashed")
        assert make_db().find_user_by(email="bob@example.com").id == saved.id


class TestAddUser:
    def test_add_user_returns_the_saved_user(self, make_db: MakeDB) -> None:
        saved = make_db().add_user("bob@example.com", "hashed")
        assert isinstance(saved, User)
        assert saved.email == "bob@example.com"
        assert isinstance(saved.id, int)

    def test_first_user_gets_id_1_and_second_id_2(self, make_db: MakeDB) -> None:
        store = make_db()
        first = store.add_user("first@example.com", "hashed1")
        second = store.add_user("second@example.com", "hashed2")
        assert (first.id, second.id) == (1, 2)

    def test_added_user_is_committed(self, make_db: MakeDB) -> None:
        make_db().add_user("bob@example.com", "hashed")
        found = make_db().find_user_by(email="bob@example.com")
        assert (found.id, found.email) == (1, "bob@example.com")
        assert found.session_id is None

    @pytest.mark.parametrize(
        ("email", "hashed_password"),
        [("not an email", "hashed"), ("bob@example.com", "x")],
        ids=["malformed-email", "one-character-hash"],
    )
    def test_add_user_does_not_validate(
        self, make_db: MakeDB, email: str, hashed_password: str
    ) -> None:
        assert make_db().add_user(email, hashed_password).id == 1


class TestFindUserBy:
    def test_finds_the_user_by_email(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ada@example.com", "hashed1")
        saved = store.add_user("bob@example.com", "hashed2")
        assert store.find_user_by(email="bob@example.com").id == saved.id

    def test_every_keyword_must_match(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ada@example.com", "hashed")
        saved = store.add_user("bob@example.com", "hashed")
        assert store.find_user_by(email="bob@example.com", id=saved.id).id == saved.id
        with pytest.raises(NoResultFound):
            store.find_user_by(email="bob@example.com", id=1)

    def test_returns_the_first_matching_user(self, make_db: MakeDB) -> None:
        store = make_db()
        store.add_user("ada@example.com", "same")
        store.add_user("bob@example.com", "same")
        assert store.find_user_by(hashed_password="same").email == "ada@example.com"

    @pytest.mark.parametrize(
        "filters",
        [{"email": "nobody@example.com"}, {"id": 99}, {"session_id": "no-such-session"}],
        ids=["unknown-email", "unknown-id", "unknown-session-id"],
    )
    def test_raises_no_result_found_when_none_matches(
        self, make_db: MakeDB, filters: dict[str, Any]
    ) -> None:
        store = make_db()
        store.add_user("bob@example.com", "hashed")
        with pytest.raises(NoResultFound):
            store.find_user_by(**filters)

    def test_raises_no_result_found_on_an_empty_table(self, make_db: MakeDB) -> None:
        with pytest.raises(NoResultFound):
            make_db().find_user_by(email="bob@example.com")

    @pytest.mark.parametrize(
        "filters",
        [{"no_email": "bob@example.com"}, {"password": "x"}, {"email": "a", "name": "b"}],
        ids=["misspelt-column", "password-is-not-a-column", "one-bad-among-good"],
    )
    def test_raises_invalid_request_error_for_a_non_column_keyword(
        self, make_db: MakeDB, filters: dict[str, Any]
    ) -> None:
        store = make_db()
        store.add_user("bob@example.com", "hashed")
        with pytest.raises(sqlalchemy.exc.InvalidRequestError):
            store.find_user_by(**filters)


class TestUpdateUser:
    def test_sets_the_attributes_and_commits(self, make_db: MakeDB) -> None:
        store = make_db()
        saved = store.add_user("bob@example.com", "hashed")
        store.update_user(saved.id, session_id="a-session", email="b2@example.com")
        found = make_db().find_user_by(id=saved.id)
        assert (found.session_id, found.email) == ("a-session", "b2@example.com")

    def test_sets_the_email(self, make_db: MakeDB) -> None:
        store = make_db()
        saved = store.add_user("bob@example.com", "hashed")
        store.update_user(saved.id, email="robert@example.com")
        assert make_db().find_user_by(id=saved.id).email == "robert@example.com"

    def test_sets_an_attribute_back_to_none(self, make_db: MakeDB) -> None:
        store = make_db()
        saved = store.add_user("bob@example.com", "hashed")
        store.update_user(saved.id, session_id="a-session")
        store.update_user(saved.id, session_id=None)
        assert make_db().find_user_by(id=saved.id).session_id is None

    def test_changes_only_the_user_with_that_id(self, make_db: MakeDB) -> None:
        store = make_db()
        other = store.add_user("ada@example.com", "hashed")
        saved = store.add_user("bob@example.com", "hashed")
        store.update_user(saved.id, session_id="a-session")
        assert make_db().find_user_by(id=other.id).session_id is None

    @pytest.mark.parametrize(
        "changes",
        [{"password": "x"}, {"no_email": "x"}, {"session_id": "a-session", "nickname": "bob"}],
        ids=["password-is-not-an-attribute", "misspelt-attribute", "one-bad-among-good"],
    )
    def test_raises_value_error_for_a_non_attribute_and_changes_nothing(
        self, make_db: MakeDB, changes: dict[str, Any]
    ) -> None:
        store = make_db()
        saved = store.add_user("bob@example.com", "hashed")
        before = _columns(make_db().find_user_by(id=saved.id))
        with pytest.raises(ValueError, match=r"."):
            store.update_user(saved.id, **changes)
        assert _columns(make_db().find_user_by(id=saved.id)) == before

    def test_raises_no_result_found_for_an_unknown_id(self, make_db: MakeDB) -> None:
        # update_user finds the user through find_user_by, which raises this.
        store = make_db()
        store.add_user("bob@example.com", "hashed")
        with pytest.raises(NoResultFound):
            store.update_user(99, session_id="a-session")
