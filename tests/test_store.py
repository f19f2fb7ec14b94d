"""The store's schema: migrations bring a new database to the head the code expects."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from sync.store.engine import MIGRATIONS, SCHEMA_HEAD, open_store, schema_is_current
from sync.store.schema import metadata


def test_schema_head_constant_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_a_new_store_is_migrated_to_every_table_the_code_uses(database_url: str) -> None:
    engine = open_store(database_url)
    assert schema_is_current(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables
    for name, table in metadata.tables.items():
        columns = {c["name"] for c in inspect(engine).get_columns(name)}
        assert {c.name for c in table.columns} == columns, name
    engine.dispose()


def test_the_migrations_build_the_schema_the_code_declares(database_url: str) -> None:
    """Indexes, keys and constraints too (the job queue's own tables are Procrastinate's)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = open_store(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    ours = [d for d in differences if "procrastinate_" not in repr(d)]
    assert ours == []
    engine.dispose()


def test_bulk_insert_stores_values_as_sqlalchemy_would(database_url: str) -> None:
    """sync.store.bulk goes around SQLAlchemy's insert(); what lands in the database must be
    the same bytes (SQLite keeps datetimes as text, which queries compare as text)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select, text

    from sync.store.bulk import insert_rows
    from sync.store.schema import sync_state

    engine = open_store(database_url)
    now = datetime(2026, 11, 24, 3, 4, 5, 678901, tzinfo=UTC)
    columns = ("tenant_id", "watermark", "last_full_at")
    with engine.begin() as conn:
        conn.execute(insert(sync_state).values(dict(zip(columns, ("a", "w", now), strict=True))))
        rows = [("b", "w", now), ("c", None, now)]
        insert_rows(conn, sync_state, [dict(zip(columns, row, strict=True)) for row in rows])
        stored = conn.execute(text("SELECT tenant_id, last_full_at FROM sync_state")).all()
        by_key = {key: value for key, value in stored}
        assert by_key["b"] == by_key["c"] == by_key["a"]
        read = conn.execute(select(sync_state.c.last_full_at)).scalars().all()
        assert {value.replace(tzinfo=UTC) for value in read} == {now}
        with pytest.raises(ValueError, match="no column"):
            insert_rows(conn, sync_state, [{"tenant_id": "d", "watermak": "w"}])
    engine.dispose()


def test_a_batch_just_inserted_is_found_by_its_ids_not_the_tenants_index(
    database_url: str,
) -> None:
    """sync.store.accounts.inserted_after: on a new store (no planner statistics) the query for
    a batch's ids must range over the primary key. By the tenant's index instead, every batch of
    a first run read all of the tenant's accounts again: quadratic."""
    from datetime import UTC, datetime

    from sqlalchemy import select, text

    from sync.store.accounts import inserted_after
    from sync.store.bulk import insert_rows
    from sync.store.schema import accounts

    engine = open_store(database_url)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    rows = [
        {
            "tenant_id": "t",
            "name": f"u{n}",
            "name_key": f"u{n}",
            "source_id": f"s{n}",
            "status": "active",
            "emails": "[]",
            "profile_digest": "d",
            "auth_type": "password",
            "role": "none",
            "role_by_hand": False,
            "name_locked": False,
            "invited": False,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(3000)
    ]
    with engine.begin() as conn:
        insert_rows(conn, accounts, rows)
        new = inserted_after(2900)
        query = select(new.c.id).where(new.c.tenant_id == "t")
        assert len(conn.execute(query).all()) == 100
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN" if conn.dialect.name == "sqlite" else "EXPLAIN"
        plan = "\n".join(str(row[-1]) for row in conn.execute(text(f"{explain} {compiled}")))
    engine.dispose()
    if engine.dialect.name == "sqlite":
        assert "USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
    else:
        assert "(id > 2900)" in plan and "uq_accounts" not in plan, plan


def test_postgresql_connections_notice_a_dead_peer_within_a_minute(postgres_url: str) -> None:
    """SPEC §15: client-side keepalives and a TCP user timeout on this side, server-side
    keepalives on the server's (a job blocked on a dead socket no longer waits for the kernel)."""
    from sync.store.engine import make_engine

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            client = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
            server = conn.exec_driver_sql("SHOW tcp_keepalives_idle").scalar()
    finally:
        engine.dispose()
    assert (client["keepalives"], client["keepalives_idle"]) == ("1", "30")
    assert client["tcp_user_timeout"] == "60000" and server == "30"
