"""`DB.atomically`: the store calls a piece of domain code makes, joined into one transaction.

The login's second step runs in it (login_transactions.py), so what it promises is what makes
a pending login complete once with one code spent.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

# The design names this module; SQLAlchemy re-exports the class there without declaring it.
from sqlalchemy.orm.exc import NoResultFound  # type: ignore[attr-defined]

from userauth.db import DB
from userauth.errors import WrongCodeError
from userauth.models import User

MakeDB = Callable[[], DB]


class BoomError(Exception):
    """An error the unit raises, named by no `commit_on`."""


def exists(db: DB, email: str) -> bool:
    try:
        db.find_user_by(email=email)
    except NoResultFound:
        return False
    return True


class TestAtomically:
    def test_the_store_calls_inside_commit_together(self, make_db: MakeDB) -> None:
        db = make_db()

        def unit() -> tuple[User, User]:
            return db.add_user("ann@example.com", "h"), db.add_user("bob@example.com", "h")

        ann, bob = db.atomically(unit)
        assert (ann.email, bob.email) == ("ann@example.com", "bob@example.com")
        assert exists(make_db(), "ann@example.com")
        assert exists(make_db(), "bob@example.com")

    def test_an_error_inside_rolls_every_call_back(self, make_db: MakeDB) -> None:
        db = make_db()

        def unit() -> None:
            db.add_user("ann@example.com", "h")
            raise BoomError

        with pytest.raises(BoomError):
            db.atomically(unit)
        assert not exists(make_db(), "ann@example.com")

    def test_an_outcome_named_commit_on_commits_then_is_raised(self, make_db: MakeDB) -> None:
        db = make_db()

        def unit() -> None:
            db.add_user("ann@example.com", "h")
            raise WrongCodeError

        with pytest.raises(WrongCodeError):
            db.atomically(unit, commit_on=(WrongCodeError,))
        assert exists(make_db(), "ann@example.com")

    def test_reads_inside_see_its_own_writes_before_the_commit(self, make_db: MakeDB) -> None:
        db = make_db()

        def unit() -> tuple[bool, bool]:
            db.add_user("ann@example.com", "h")
            return exists(db, "ann@example.com"), exists(make_db(), "ann@example.com")

        inside, elsewhere = db.atomically(unit)
        assert inside
        assert not elsewhere  # another store (another connection) waits for the commit

    def test_a_nested_call_joins_the_outer_transaction(self, make_db: MakeDB) -> None:
        db = make_db()

        def unit() -> None:
            db.atomically(lambda: db.add_user("ann@example.com", "h"))
            raise BoomError

        with pytest.raises(BoomError):
            db.atomically(unit)
        assert not exists(make_db(), "ann@example.com")
