"""Finding a run or a change set by the beginning of its id (SPEC §14)."""

from __future__ import annotations

from sqlalchemy import Column, Connection, select


def ids_starting(conn: Connection, column: Column[str], prefix: str, limit: int = 5) -> list[str]:
    """Ids of `column` that start with `prefix` (LIKE wildcards in it are escaped)."""
    query = select(column).where(column.startswith(prefix, autoescape=True))
    return [found for (found,) in conn.execute(query.order_by(column).limit(limit))]
