"""Procrastinate's job schema (the fleet's queue, SPEC §11) in the store's PostgreSQL database."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import Connection, inspect

JOBS = "procrastinate_jobs"


def ensure_queue_schema(conn: Connection) -> bool:
    """Installs Procrastinate's schema unless it is there (True when it installed it)."""
    if conn.dialect.name != "postgresql" or inspect(conn).has_table(JOBS):
        return False
    schema = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(schema)  # several statements, no parameters: sent as one simple query
    cursor.close()
    return True
