"""Opening the store for an entry point (SPEC §14: entry points reach the store only through the
services). Each entry point says what it needs: a store migrated and ready to write, a reader
that never writes (a dry run), a bare connection pool (a health check, a worker's pool), or the
schema migrated."""

from __future__ import annotations

from sqlalchemy import Engine

from sync.store import engine as store_engine

# the keepalives (both ends) and TCP user timeout every PostgreSQL connection of the store uses;
# the fleet's queue connector takes the same
PG_CONNECT_ARGS = store_engine.PG_CONNECT_ARGS


def for_writing(url: str) -> Engine:
    """The store, created or migrated to the newest schema first."""
    return store_engine.open_store(url)


def for_reading(url: str) -> Engine:
    """A reader that never creates, migrates or writes (a store not there yet reads as empty)."""
    return store_engine.open_reader(url)


def pool(url: str, pool_size: int | None = None, session_name: str | None = None) -> Engine:
    """Connections as they are: no migration (a health check only looks). `session_name`: the
    application_name of a fleet worker's sessions (sync.services.fence)."""
    return store_engine.make_engine(url, pool_size=pool_size, session_name=session_name)


def migrate(url: str) -> None:
    """`db upgrade`: the schema brought to the newest revision."""
    engine = store_engine.make_engine(url)
    try:
        store_engine.upgrade(engine)
    finally:
        engine.dispose()
