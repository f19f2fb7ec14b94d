"""The store's schema: migrations bring a new database to the head the code expects."""

from __future__ import annotations

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
