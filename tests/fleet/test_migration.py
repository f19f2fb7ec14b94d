"""Migration 0005_tenants_fleet on SQLite and PostgreSQL, and Procrastinate's job schema."""

from __future__ import annotations

from sqlalchemy import inspect

from sync.store.engine import make_engine, upgrade
from sync.store.queue import ensure_queue_schema
from tests.support.migrations import migrate


def test_0004_adds_tenants_drops_tick_claims_and_goes_back(database_url: str) -> None:
    migrate(database_url, "0003_wide_watermark")
    engine = make_engine(database_url)
    assert {"schedule_ticks", "scheduler_heartbeats"} <= set(inspect(engine).get_table_names())

    upgrade(engine)  # what `db upgrade` does
    upgrade(engine)  # twice: the job schema is applied only where it is missing
    tables = set(inspect(engine).get_table_names())
    assert {"tenants", "tenant_versions", "tenant_dispatch"} <= tables
    assert not {"schedule_ticks", "scheduler_heartbeats"} & tables
    is_postgres = engine.dialect.name == "postgresql"
    assert ("procrastinate_jobs" in tables) == is_postgres
    with engine.begin() as conn:
        assert ensure_queue_schema(conn) is False  # already there (or SQLite: never)
    engine.dispose()

    migrate(database_url, "0003_wide_watermark", down=True)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert "schedule_ticks" in tables and "tenants" not in tables
    engine.dispose()
