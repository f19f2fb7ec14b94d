"""Inserting many rows through the database driver's own executemany.

A run that creates 100,000 accounts writes 300,000 rows (accounts, reset tokens, outbox). Through
SQLAlchemy's Core `insert()` every row's parameters are rebuilt and each value passed through its
type's processor, which cost more than the database's own work. Here the statement is built once
and rows go to the driver as tuples; the columns' bind processors (SQLite's datetimes, say) are
still applied, once per distinct value object, since a run stamps every row with the same `now`.
On PostgreSQL (psycopg) the rows go through COPY instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table

Row = tuple[Any, ...]
MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> None:
    """INSERTs `rows`, each a tuple of values in `columns`' order, in one executemany."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_rows(conn, table, columns, rows)
        return
    marker = MARKERS.get(dialect.paramstyle)
    if marker is None:  # the drivers we support use one of the above
        raise NotImplementedError(f"paramstyle {dialect.paramstyle} of {dialect.name}")
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    markers = ", ".join(marker for _ in columns)
    statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({markers})"
    # the dialect's own type (SQLite's DATETIME, say), as SQLAlchemy's insert() would use it
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    if any(processors):
        rows = [tuple(row) for row in _processed(rows, processors)]
    conn.exec_driver_sql(statement, list(rows))


def _copy_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """PostgreSQL's COPY, in the caller's transaction: a third of executemany's time for a first
    run's 300,000 rows, most of it the server's. psycopg adapts the values itself."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    driver_connection: Any = conn.connection.dbapi_connection
    with (
        driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _processed(
    rows: Iterable[Row], processors: Sequence[Callable[[Any], Any] | None]
) -> Iterable[list[Any]]:
    memo: list[tuple[object, object]] = [(_NOTHING, None)] * len(processors)
    active = [(index, process) for index, process in enumerate(processors) if process]
    for row in rows:
        values = list(row)
        for index, process in active:
            value = values[index]
            seen, result = memo[index]
            if value is not seen:
                result = process(value) if value is not None else None
                memo[index] = (value, result)
            values[index] = result
        yield values


_NOTHING = object()
