"""The design's `user` module: the declarative base and the `User` model of table `users`."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, declarative_base, mapped_column

Base = declarative_base()


class User(Base):  # type: ignore[valid-type,misc]
    """A row of `users`: exactly the design's five columns, no index or constraint."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(250), nullable=False)
    # bcrypt's bytes as the design stores them; a str written here reads back a str.
    hashed_password: Mapped[str | bytes] = mapped_column(String(250), nullable=False)
    session_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    reset_token: Mapped[str | None] = mapped_column(String(250), nullable=True)
