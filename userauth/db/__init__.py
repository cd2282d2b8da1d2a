"""Persistence: the only package that opens a Session or commits."""

from userauth.db.accounts import AccountStore
from userauth.db.admin import AdminStore
from userauth.db.engine import DEFAULT_URL, make_engine
from userauth.db.sessions import LiveSession, SessionStore


class DB(AccountStore, SessionStore, AdminStore):
    """The user store. `DB()` opens (and creates if missing) the default database."""


__all__ = ["DB", "DEFAULT_URL", "LiveSession", "make_engine"]
