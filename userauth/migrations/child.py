"""ensure_current() in a forked child process, for `userauth serve`'s main process.

That process forks the workers, which inherit everything it imported: creating or
upgrading a schema takes Alembic, Mako and Pygments, about 13 MB in every worker for its
whole life. So the main process only reads whether the database is current (is_current,
without Alembic), and a child process that ends with its work does the rest.
"""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from userauth.migrations import MigrationError, ensure_current, is_current

if TYPE_CHECKING:
    from multiprocessing.connection import Connection


class UnreachableDatabaseError(MigrationError):
    """The database could not be reached to check its schema (the driver's words)."""


def ensure_current_in_child(database_url: str, *, auto_migrate: bool) -> None:
    """ensure_current(), run in a forked child process when the database is not current.

    Raises:
        MigrationError: as ensure_current() (with its message), or the child process ended
            without an answer.
        UnreachableDatabaseError: this process or the child could not reach the database.
    """
    try:
        if is_current(database_url):
            return
    except OperationalError as error:
        raise UnreachableDatabaseError(str(error.orig)) from None
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_ensure_current_and_answer,
        args=(database_url, auto_migrate, sender),
        name="userauth-schema",
    )
    child.start()
    sender.close()
    try:
        answer = receiver.recv()
    except EOFError:
        answer = None
    finally:
        receiver.close()
    child.join()
    if answer is None:
        raise MigrationError(
            f"the process creating or upgrading the schema ended with status {child.exitcode}"
        )
    outcome, message = answer
    if outcome == "unreachable":
        raise UnreachableDatabaseError(message)
    if outcome == "refused":
        raise MigrationError(message)


def _ensure_current_and_answer(database_url: str, auto_migrate: bool, answer: Connection) -> None:
    """In ensure_current_in_child's process: ensure_current(), its outcome sent as text."""
    try:
        ensure_current(database_url, auto_migrate=auto_migrate)
        answer.send(("current", ""))
    except MigrationError as error:
        answer.send(("refused", str(error)))
    except OperationalError as error:
        answer.send(("unreachable", str(error.orig)))
    finally:
        answer.close()
