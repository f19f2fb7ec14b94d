"""Every row of every table of a store, to show that something changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, inspect, select

from sync.store.schema import metadata


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
