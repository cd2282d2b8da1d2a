"""How a command's failures read: one line each, with click's exit codes.

Usage errors (exit code 2) print as `Error: ...` without the usage text; an unreachable
database, or an unknown or unusable email, becomes one sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.exc import OperationalError

from userauth.errors import AuthError, UnknownEmailError


class OneLineErrors(click.Group):
    """A group whose usage errors print as one line, `Error: ...`, still with exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            # Without a context, click prints the message alone, not the usage text too.
            error.ctx = None
            raise
        except OperationalError as error:
            raise click.ClickException(f"cannot reach the database: {_reason(error)}") from None


def _reason(error: OperationalError) -> str:
    """Return the driver's first line about a failed connection (it holds no password)."""
    return _first_line(str(error.orig))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0]


@contextmanager
def usage_errors(param_hint: str = "'EMAIL'") -> Iterator[None]:
    """Turn an unknown or unusable email into a usage error (one line, exit code 2)."""
    try:
        yield
    except UnknownEmailError as error:
        raise click.BadParameter(
            f"no account has the email {error.email!r}", param_hint=param_hint
        ) from None
    except AuthError as error:
        raise click.BadParameter(str(error), param_hint=param_hint) from None
