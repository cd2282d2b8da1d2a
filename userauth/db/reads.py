"""Prebuilt single-row reads run on a pooled DB-API cursor: the session check's fast path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Dialect, Engine, Select
from sqlalchemy.exc import DBAPIError


class PreparedRead:
    """A SELECT of one row, compiled once for a dialect, its values converted as SQLAlchemy would.

    Running it costs a pool checkout and one cursor execute: none of Core's per-execution
    work, which is most of what the session check would cost on SQLite. The price: engine
    events and SQLAlchemy's statement logging do not see it.

    Raises:
        ValueError: the statement holds a bound value (`.limit(1)`, a literal in a
            comparison); only named parameters given at each run (`bindparam("digest")`) are
            supported.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self.sql = str(compiled)
        # Drivers with ?-style parameters take a tuple in this order; the others a dict.
        self._order: list[str] | None = compiled.positiontup
        self._bind_processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in compiled.binds.items():
            if not bind.required:
                raise ValueError(
                    f"{name}: a prepared read takes no bound values, only bindparam()"
                )
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._bind_processors[name] = processor
        self._keys = [str(column.key) for column in statement.selected_columns]
        self._result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Return the driver's parameters for these named values."""
        converted = dict(values)
        for name, processor in self._bind_processors.items():
            converted[name] = processor(converted[name])
        if self._order is None:
            return converted
        return tuple(converted[name] for name in self._order)

    def row(self, values: tuple[Any, ...]) -> dict[str, Any]:
        """Return the driver's row as {column key: converted value}."""
        return {
            key: value if processor is None else processor(value)
            for key, value, processor in zip(
                self._keys, values, self._result_processors, strict=True
            )
        }


def read_one(
    engine: Engine, read: PreparedRead, values: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Run the read outside any transaction on a pooled connection; return its row or None.

    A transaction would cost a BEGIN and a ROLLBACK round trip around the one SELECT, so
    the connection is in autocommit for the read (pysqlite begins none for a SELECT).

    Raises:
        sqlalchemy.exc.DBAPIError: the database refused the read (parameters hidden), as
            Core would raise it. A dropped connection is not an error: the read runs again,
            through Core, which reconnects once.
    """
    if engine.echo:  # USERAUTH_SQL_ECHO: show this read too
        return _read_through_core(engine, read, values)
    parameters = read.parameters(values)
    dialect = engine.dialect
    try:
        connection = engine.raw_connection()
    except dialect.loaded_dbapi.Error:
        return _read_through_core(engine, read, values)  # raises Core's error for an outage
    driver_connection = connection.dbapi_connection
    try:
        if driver_connection is None:  # never after a checkout; for the type checker
            raise dialect.loaded_dbapi.InterfaceError("no connection")
        found = _fetch_one(dialect, driver_connection, read.sql, parameters)
    except dialect.loaded_dbapi.Error as error:
        dropped = dialect.is_disconnect(error, driver_connection, None)
        connection.invalidate()
        if dropped:
            return _read_through_core(engine, read, values)
        raise DBAPIError.instance(
            read.sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True
        ) from error
    except BaseException:
        # Its isolation level may not have been put back: it must not serve a transaction.
        connection.invalidate()
        raise
    finally:
        connection.close()
    return None if found is None else read.row(tuple(found))


def _fetch_one(
    dialect: Dialect, driver_connection: Any, sql: str, parameters: Any
) -> tuple[Any, ...] | None:
    autocommit = dialect.name != "sqlite"
    if autocommit:
        dialect.set_isolation_level(driver_connection, "AUTOCOMMIT")
    cursor = driver_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        found: tuple[Any, ...] | None = cursor.fetchone()
    finally:
        cursor.close()
    if autocommit:
        dialect.reset_isolation_level(driver_connection)
    return found


def _read_through_core(
    engine: Engine, read: PreparedRead, values: Mapping[str, Any]
) -> dict[str, Any] | None:
    if engine.dialect.name != "sqlite":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    for attempt in range(2):
        try:
            with engine.connect() as connection:
                row = connection.execute(read.statement, dict(values)).first()
                return None if row is None else dict(row._mapping)
        except DBAPIError as error:
            if attempt or not error.connection_invalidated:
                raise
    return None
