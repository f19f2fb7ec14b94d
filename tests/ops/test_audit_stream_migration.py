"""Migration 0013_audit_stream on SQLite and PostgreSQL: up from 0011 with the cursor's one row
(at 0: the events already kept are sent once the stream is enabled), and back down."""

from __future__ import annotations

from sqlalchemy import inspect, text

from sync.store.engine import make_engine, upgrade
from tests.support.migrations import migrate


def test_0013_adds_the_cursor_row_and_goes_back(database_url: str) -> None:
    migrate(database_url, "0011_scim_directory")
    engine = make_engine(database_url)
    assert "audit_stream" not in inspect(engine).get_table_names()
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, sent_id, holder FROM audit_stream")).all()
    assert [tuple(r) for r in rows] == [("default", 0, None)]
    engine.dispose()

    migrate(database_url, "0011_scim_directory", down=True)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert "audit_stream" not in tables and "scim_users" in tables
    engine.dispose()
