"""Procrastinate's job schema (the fleet's queue, SPEC §11) in the store's PostgreSQL database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import Connection, inspect, text

JOBS = "procrastinate_jobs"


def _schema_file() -> Path:
    """Procrastinate's schema.sql, found without importing the package: importing it (and what
    it imports) took about 10 MB of a first run's peak memory, for a file read once."""
    spec = importlib.util.find_spec("procrastinate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("procrastinate is not installed: the fleet's queue needs it")
    return Path(next(iter(spec.submodule_search_locations))) / "sql" / "schema.sql"


def ensure_queue_schema(conn: Connection) -> bool:
    """Installs Procrastinate's schema unless it is there (True when it installed it)."""
    if conn.dialect.name != "postgresql" or inspect(conn).has_table(JOBS):
        return False
    schema = _schema_file().read_text(encoding="utf-8")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(schema)  # several statements, no parameters: sent as one simple query
    cursor.close()
    return True


# a table's statistics are stale once this many rows plus this share of its live rows changed
# since its last ANALYZE (PostgreSQL's autovacuum analyzes at 50 + 10 %; the floor is higher so a
# quiet fleet never analyzes)
STALE_ROWS, STALE_SHARE = 500, 0.1


def stale_tables(conn: Connection) -> list[str]:
    """The store's tables (Procrastinate's included) whose statistics are stale: from the
    server's own counters, one small catalog query."""
    rows = conn.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
            "AND n_mod_since_analyze > :rows + :share * greatest(n_live_tup, 0) "
            "ORDER BY relname"
        ),
        {"rows": STALE_ROWS, "share": STALE_SHARE},
    ).scalars()
    return [str(name) for name in rows]


def analyze(conn: Connection, tables: list[str]) -> None:
    for table in tables:
        quoted = conn.dialect.identifier_preparer.quote(table)
        conn.exec_driver_sql(f"ANALYZE {quoted}")
