"""The contract's `user` module (SPEC.md A): the declarative base and the User model."""

from userauth.models import Base, User

__all__ = ["Base", "User"]
