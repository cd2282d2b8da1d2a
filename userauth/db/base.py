"""The store's shared plumbing: the engine, its connections and transactions."""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Executable,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from userauth.db.broadcast import Broadcast, SessionChanges
from userauth.db.change_file import ChangeFile
from userauth.db.engine import make_engine
from userauth.models import (
    disabled_users_table,
    one_time_secrets_table,
    pending_logins_table,
    sessions_table,
    users_table,
)
from userauth.sqlite import BUSY_TIMEOUT_MS

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.dialects import postgresql, sqlite

    from userauth.db.oidc_tokens import EndedLogin

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
Committed = Callable[[set[int], "Sequence[EndedLogin]"], None]

_users = users_table.c
_sessions = sessions_table.c
_secrets = one_time_secrets_table.c
_disabled = disabled_users_table.c
_pending = pending_logins_table.c


def broadcast_for(engine: Engine) -> Broadcast:
    """Return the broadcast that suits the engine's database; nothing is opened yet."""
    # Imported here: only a PostgreSQL server loads psycopg (a SQLite worker stays without it).
    if engine.dialect.name == "postgresql":
        from userauth.db.change_listener import ChangeListener

        return ChangeListener(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        return ChangeFile(f"{database}-session-changes")
    return Broadcast()


class Store:
    """What every part of the store shares: the engine, its connections and transactions.

    Building one does no I/O: the engine connects on first use, and the schema is
    userauth.migrations' business (`userauth serve` and `userauth db upgrade` call it).
    """

    def __init__(
        self, url: str, *, echo: bool = False, sqlite_busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self._engine = make_engine(url, echo=echo, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms)
        # The same pool, for single reads that need no transaction (SQLite starts none
        # for a SELECT; elsewhere autocommit saves the BEGIN and ROLLBACK round trips).
        self._reads = (
            self._engine
            if self._engine.dialect.name == "sqlite"
            else self._engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._broadcast: Broadcast = broadcast_for(self._engine)
        # The unit of work `atomically` opened on this thread, which store calls join.
        self._local = threading.local()
        self._committed: list[Committed] = []

    def on_commit(self, listener: Committed) -> None:
        """Call `listener(user_ids, ended_logins)` after each commit that changed sessions:
        the users whose sessions changed (one ended, or a new one began), and the provider's
        logins of accounts the transaction deleted (their rows are gone: db/oidc_tokens.py).
        """
        self._committed.append(listener)

    def _tell(self, work: UnitOfWork, changed: set[int]) -> None:
        # The transaction has committed: its outcome stands, whatever a listener does. A
        # listener's exception is logged, never raised: raised, it would turn a committed
        # change into an error answer, or (a dropped connection) into a rerun of the unit.
        if changed or work.ended_logins:
            for listener in self._committed:
                try:
                    listener(changed, list(work.ended_logins))
                except Exception:
                    logger.exception("a listener of committed session changes failed")

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (migrations and health checks use it)."""
        return self._engine

    @property
    def session_changes(self) -> SessionChanges:
        """The broadcast of session changes, as the session cache reads it."""
        return self._broadcast

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """Lend a pooled connection for reads that share one transaction (a snapshot).

        Its transaction rolls back when it is given back. Inside `atomically`, the reads use
        the open transaction's connection instead (they see its writes; no second checkout).
        A single read that needs no transaction uses `self._reads` instead.
        """
        work = self._ambient()
        if work is not None:
            yield work.connection
            return
        with self._engine.connect() as connection:
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[UnitOfWork]:
        """Run a unit of work in one transaction; broadcast the session changes it announced.

        Inside `atomically`, the unit joins the open transaction, which commits it.
        """
        work = self._ambient()
        if work is not None:
            yield work
            return
        with self._engine.begin() as connection:
            work = UnitOfWork(connection)
            yield work
            changed = set(work.changed_users)
            if changed:
                self._broadcast.before_commit(connection, changed)
        if changed:
            self._broadcast.after_commit(changed)
        self._tell(work, changed)

    def atomically(
        self, unit: Callable[[], T], *, commit_on: tuple[type[Exception], ...] = ()
    ) -> T:
        """Run `unit` (domain code calling the store) in one transaction; return its result.

        Every store call `unit` makes on this thread joins the transaction, so its writes
        commit together or not at all: an exception rolls them all back, except one of
        `commit_on` (an outcome whose records must stay, as a wrong code's counted attempt),
        which commits them and is raised after. Run once more on a dead connection, as
        rerun_once_if_disconnected says. Nested calls join the outer transaction.
        """
        if self._ambient() is not None:
            return unit()
        return retry_if_disconnected(functools.partial(self._run_atomically, unit, commit_on))

    def _run_atomically(self, unit: Callable[[], T], commit_on: tuple[type[Exception], ...]) -> T:
        outcome: Exception | None = None
        with self._engine.begin() as connection:
            work = UnitOfWork(connection)
            self._local.work = work
            try:
                try:
                    result = unit()
                except commit_on as error:
                    outcome = error
                changed = set(work.changed_users)
                if changed:
                    self._broadcast.before_commit(connection, changed)
            finally:
                self._local.work = None
        if changed:
            self._broadcast.after_commit(changed)
        self._tell(work, changed)
        if outcome is not None:
            raise outcome
        return result

    def _ambient(self) -> UnitOfWork | None:
        """Return the unit of work `atomically` opened on this thread, if any."""
        work: UnitOfWork | None = getattr(self._local, "work", None)
        return work

    def close(self) -> None:
        """Stop listening for session changes and release every pooled connection."""
        self._broadcast.close()
        self._engine.dispose()


class UnitOfWork:
    """One transaction: its connection, and the users whose sessions it changed so far."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.changed_users: set[int] = set()
        # Logins of accounts this transaction deletes, which must still be told (on_commit).
        self.ended_logins: list[EndedLogin] = []

    def execute(
        self,
        statement: Executable,
        parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> CursorResult[Any]:
        """Run a statement in the transaction (Connection.execute)."""
        return self.connection.execute(statement, parameters)

    def announce(self, user_id: int) -> None:
        """Mark that this user's sessions changed: the store broadcasts it (db/broadcast.py)."""
        self.changed_users.add(user_id)


def enabled(user_id: Any) -> ColumnElement[bool]:
    """The SQL condition: no administrator disabled this account."""
    return ~select(_disabled.user_id).where(_disabled.user_id == user_id).exists()


def end_sessions(work: UnitOfWork, user_id: int, *, keep: int | None) -> None:
    """Delete a user's sessions (all but `keep`) inside the caller's transaction."""
    statement = delete(sessions_table).where(_sessions.user_id == user_id)
    if keep is not None:
        statement = statement.where(_sessions.id != keep)
    work.execute(statement)
    record_newest_session(work, user_id)


def record_newest_session(work: UnitOfWork, user_id: int) -> None:
    """Point users.session_id at the newest remaining session (None when none is left)."""
    newest = work.execute(
        select(_sessions.id_digest)
        .where(_sessions.user_id == user_id)
        .order_by(_sessions.created_at.desc(), _sessions.id.desc())
        .limit(1)
    ).scalar()
    work.execute(update(users_table).where(_users.id == user_id).values(session_id=newest))
    work.announce(user_id)


def void_secrets(work: UnitOfWork, user_id: int) -> None:
    """Delete every pending one-time secret of a user inside the caller's transaction."""
    work.execute(delete(one_time_secrets_table).where(_secrets.user_id == user_id))


def change_credentials(work: UnitOfWork, user_id: int, *, keep_session: int | None) -> bool:
    """Apply the one rule of a credential change inside the caller's transaction.

    Bump the user's credential version (a login, pending login or one-time secret that read
    the older one is refused when it completes), void the user's one-time secrets and
    pending logins, and end every session but `keep_session` (the one the change was made
    in). The users row is written first, so a racing login waits for it (see add_session);
    call it before touching the account's other rows (lock_account says why).
    Return whether the user exists.
    """
    bumped = work.execute(
        update(users_table)
        .where(_users.id == user_id)
        .values(credential_version=_users.credential_version + 1)
    )
    if not bumped.rowcount:
        return False
    void_secrets(work, user_id)
    work.execute(delete(pending_logins_table).where(_pending.user_id == user_id))
    end_sessions(work, user_id, keep=keep_session)
    return True


def lock_account(work: UnitOfWork, user_id: int) -> None:
    """Lock the user's row to the end of the caller's transaction (PostgreSQL; SQLite runs
    one writer at a time anyway).

    A unit that changes an account's credentials or factor rows takes it first, as
    change_credentials does and a login's second step (claim_pending_login) does: one order
    of locks, so two such units wait for each other instead of deadlocking.
    """
    work.execute(select(_users.id).where(_users.id == user_id).with_for_update())


_SPEND_PENDING_LOGIN = delete(pending_logins_table).where(_pending.id == bindparam("pending_id"))


def spend_pending_login(work: UnitOfWork, pending_id: int) -> bool:
    """Delete a pending login inside the caller's transaction; tell whether it was there."""
    return bool(work.execute(_SPEND_PENDING_LOGIN, {"pending_id": pending_id}).rowcount)


def rerun_once_if_disconnected(unit: Callable[P, T]) -> Callable[P, T]:
    """Wrap a unit of work (one transaction, or reads) to run once more on a dead connection.

    Without pre-ping (a round trip per checkout), a pooled connection the server closed
    (pg_terminate_backend, a restart, an idle timeout) is found dead when used: SQLAlchemy
    invalidates it and the pool, and the second run gets a fresh connection (its "optimistic"
    disconnect handling). A second failure, or any other error, reaches the caller.
    """

    @functools.wraps(unit)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        # Inside `atomically` the whole transaction is lost: only its outermost call reruns.
        if args and isinstance(args[0], Store) and args[0]._ambient() is not None:
            return unit(*args, **kwargs)
        try:
            return unit(*args, **kwargs)
        except DBAPIError as error:
            if not _safe_to_rerun(error):
                raise
        return unit(*args, **kwargs)

    return run


def _safe_to_rerun(error: DBAPIError) -> bool:
    """Tell whether the failed unit certainly changed nothing, so running it again is safe.

    Safe: the connection died while a statement ran (`statement` is set), so COMMIT was never
    sent, and a server that loses a connection rolls its open transaction back; every unit
    is one transaction, and a write's effects are all in it. Not safe: a connection lost
    during COMMIT (SQLAlchemy reports it with no statement), which may have committed -- a
    rerun could register twice. Writes never run on the AUTOCOMMIT reads connection.
    """
    return error.connection_invalidated and error.statement is not None


def retry_if_disconnected(read: Callable[[], T]) -> T:
    """Run a read; run it again once if the database had dropped the pooled connection."""
    return rerun_once_if_disconnected(read)()


def dialect_insert(dialect: str) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    """The dialect's INSERT, which has `on_conflict_do_update`/`_do_nothing` (PostgreSQL or
    SQLite).

    Looked up by name: the engine loaded its own dialect's package already, and the other
    one would cost each worker up to 2.4 MB (PostgreSQL's loads every driver's dialect).
    """
    module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
    insert: Callable[[Table], postgresql.Insert | sqlite.Insert] = module.insert
    return insert
