"""Migration 0011_scim_directory on SQLite and PostgreSQL: up from 0010 with its tables and
keys, and back down."""

from __future__ import annotations

from sqlalchemy import inspect

from sync.store.engine import make_engine, upgrade
from tests.support.migrations import migrate

TABLES = {"scim_directories", "scim_users", "scim_groups", "scim_members"}


def test_0009_adds_the_scim_directory_and_goes_back(database_url: str) -> None:
    migrate(database_url, "0010_account_dates")
    engine = make_engine(database_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES
    unique = {u["name"] for u in inspector.get_unique_constraints("scim_users")}
    assert "uq_scim_users_name" in unique
    engine.dispose()

    migrate(database_url, "0010_account_dates", down=True)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert not TABLES & tables and "change_sets" in tables
    engine.dispose()
