"""The contract's `db` module (SPEC.md A): the DB class."""

from userauth.db import DB

__all__ = ["DB"]
