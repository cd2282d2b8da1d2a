"""The design's `db` module: `DB`, the user store on the SQLite file `a.db`.

Exactly the design (docs/design.md): every `DB()` empties the database, no validation, no
uniqueness. Not for deployment: the service is the `userauth` package.
"""

from typing import Any

from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import Session, sessionmaker

# The design imports it from here; SQLAlchemy re-exports it without declaring it.
from sqlalchemy.orm.exc import NoResultFound  # type: ignore[attr-defined]

from user import Base, User

# Every database of the userauth service has these two tables; the design's has neither.
SERVICE_TABLES = frozenset({"alembic_version", "sessions"})


class ServiceDatabaseError(RuntimeError):
    """`a.db` holds the userauth service's accounts, which the design's `DB()` would drop."""


class DB:
    """The design's user store: one SQLAlchemy session on `sqlite:///a.db`."""

    def __init__(self) -> None:
        """Open `a.db` in the working directory and drop and recreate every table.

        Raises:
            ServiceDatabaseError: the file holds the service's tables; nothing is dropped.
        """
        self._engine = create_engine("sqlite:///a.db", echo=False)
        _refuse_a_service_database(self._engine)
        Base.metadata.drop_all(self._engine)
        Base.metadata.create_all(self._engine)
        self.__session: Session | None = None

    @property
    def _session(self) -> Session:
        """The memoized session, made on first use."""
        if self.__session is None:
            self.__session = sessionmaker(bind=self._engine)()
        return self.__session

    def add_user(self, email: str, hashed_password: str | bytes) -> User:
        """Save a user and return it (no validation, no uniqueness)."""
        user = User(email=email, hashed_password=hashed_password)
        self._session.add(user)
        self._session.commit()
        return user

    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every filter.

        Raises:
            NoResultFound: no user matches.
            sqlalchemy.exc.InvalidRequestError: a keyword is not a column of `users`.
        """
        user = self._session.query(User).filter_by(**kwargs).first()
        if user is None:
            raise NoResultFound
        return user

    def update_user(self, user_id: int, **kwargs: Any) -> None:
        """Set attributes of the user with that id and commit.

        Raises:
            NoResultFound: no user has that id.
            ValueError: a keyword is not a column of `users` (nothing is changed).
        """
        user = self.find_user_by(id=user_id)
        for name in kwargs:
            if name not in User.__table__.columns:
                raise ValueError
        for name, value in kwargs.items():
            setattr(user, name, value)
        self._session.commit()


def _refuse_a_service_database(engine: Any) -> None:
    if set(inspect(engine).get_table_names()) >= SERVICE_TABLES:
        engine.dispose()
        raise ServiceDatabaseError(
            "a.db holds the userauth service's database, which the design's DB() would empty: "
            "move it (the service's default file is userauth.db) or run the design in another "
            "folder."
        )
