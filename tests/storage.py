"""Test helpers that read what the database really stores (secrets-at-rest checks)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select, table, text


def clear_forms(secret: str) -> set[str]:
    """The spellings a clear uuid could take in a column."""
    return {secret, secret.upper(), secret.replace("-", ""), secret.replace("-", "").upper()}


def everything_stored(engine: Engine, *, expected_table: str) -> str:
    """Return every value of every row of every table, as one text."""
    names = inspect(engine).get_table_names()
    assert expected_table in names
    values: list[str] = []
    with engine.connect() as connection:
        for name in names:
            for row in connection.execute(select(text("*")).select_from(table(name))):
                values.extend(_as_text(value) for value in row)
    return "\n".join(values)


def _as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)
