"""Every row of every table of a store, to show that something changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, inspect, select

from sync.store.schema import metadata

# what a run that changes nothing still writes: its record, and its end on the tenant's watch
RUN_RECORDS = frozenset({"runs", "tenant_watch"})


def store_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Table name -> its rows in primary-key order; tables the store lacks are left out."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            return {
                table.name: [tuple(row) for row in conn.execute(
                    select(table).order_by(*table.primary_key.columns)
                )]
                for table in metadata.sorted_tables
                if table.name in present
            }  # fmt: skip
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def without_run_records(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: found for table, found in rows.items() if table not in RUN_RECORDS}
