"""The store keeps its statistics fresh whatever autovacuum does (sync.services.statistics): a
table with many rows changed since its last ANALYZE is analyzed by the next pass, once."""

from __future__ import annotations

from sqlalchemy import Engine, text

from sync.services.statistics import keep_statistics_fresh
from tests.ops.conftest import upgraded


def _analyzed(engine: Engine, table: str) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"),
                {"t": table},
            ).scalar_one()
        )


def test_a_table_with_many_changes_is_analyzed_once(pg_store: str) -> None:
    engine = upgraded(pg_store)
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE scratch (n integer)"))
        conn.execute(text("INSERT INTO scratch SELECT generate_series(1, 2000)"))
        conn.commit()
        conn.execute(text("SELECT pg_stat_force_next_flush()"))  # the counters, now
        conn.commit()
    assert not _analyzed(engine, "scratch")
    first = keep_statistics_fresh(engine)
    assert "scratch" in first
    assert _analyzed(engine, "scratch")
    assert "scratch" not in keep_statistics_fresh(engine)  # nothing changed since


def test_a_quiet_store_is_left_alone(pg_store: str) -> None:
    engine = upgraded(pg_store)
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE scratch (n integer)"))
        conn.execute(text("INSERT INTO scratch SELECT generate_series(1, 20)"))
        conn.commit()
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
        conn.commit()
    assert "scratch" not in keep_statistics_fresh(engine)
    assert not _analyzed(engine, "scratch")
