"""Opening the store and keeping its schema current (Alembic)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from sync.errors import StopRun
from sync.store.locks import named_lock
from sync.store.queue import ensure_queue_schema

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = str(Path(__file__).parent / "migrations")
# The newest migration. Knowing it here spares every command importing Alembic (a fifth of a
# second) just to learn that the schema is current; tests/test_store.py checks it is the head.
SCHEMA_HEAD = "0014_console_auth"


def make_engine(url: str, pool_size: int | None = None, session_name: str | None = None) -> Engine:
    """An engine for the configured URL; a SQLite file's folder is created on first use.
    `pool_size`: connections kept for a process that runs that many things at once (a worker);
    `session_name`: PostgreSQL's application_name of its sessions (a fleet worker's, so it can be
    fenced: sync.store.fence)."""
    pooling = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": pool_size}
    connect_args = _connect_args(url)
    if session_name is not None and connect_args:
        connect_args["application_name"] = session_name
    try:
        engine = create_engine(
            url, pool_pre_ping=True, future=True, connect_args=connect_args, **pooling
        )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StopRun(f"database.url is not a usable database URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _connect_args(url: str) -> dict[str, Any]:
    return dict(PG_CONNECT_ARGS) if url.startswith("postgresql") else {}


# PostgreSQL, both ends (SPEC §15): the server drops a dead worker's session (and its locks)
# within about a minute instead of the kernel's two hours of keepalive, and this side notices a
# dead server or a cut path as soon: client keepalives for an idle connection, and
# tcp_user_timeout (ms) for one whose sent data goes unacknowledged (a query on a dead socket
# would otherwise wait for the kernel's retransmissions, a quarter of an hour)
PG_KEEPALIVE = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
PG_CONNECT_ARGS: dict[str, Any] = {
    "options": PG_KEEPALIVE,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two
    workers sharing a file wait for each other instead of failing on a read-to-write upgrade."""
    with engine.connect() as conn:
        conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            yield conn


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling does not wrap DDL, so a worker killed during a
    # migration would leave half a schema: SQLAlchemy emits BEGIN itself instead (_sqlite_begin).
    dbapi_connection.isolation_level = None
    # WAL lets readers go on during a run; a killed process leaves the last committed state.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def ping(conn: Connection) -> None:
    """One round trip: raises when the store does not answer."""
    conn.execute(text("SELECT 1"))


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return current == [SCHEMA_HEAD]


def upgrade(engine: Engine) -> None:
    """Brings the schema to the newest revision; concurrent workers wait for each other."""
    from alembic import command

    config = _alembic_config()
    with named_lock(engine, "__schema__", wait_seconds=120) as held:
        if not held:
            raise StopRun("another worker has been migrating the store for two minutes")
        with writing(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            ensure_queue_schema(conn)


def open_reader(url: str) -> Engine:
    """An engine that reads the store and cannot change it (a dry run, SPEC §10): nothing is
    created, migrated or written. A store that does not exist yet, or has no tables yet, is read
    as an empty one (an in-memory database with the current schema)."""
    engine = _existing_store(url)
    if engine is None:
        return _empty_store()
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                engine.dispose()
                return _empty_store()
        if not schema_is_current(engine):
            raise StopRun(
                f"the store at {engine.url!r} has an older schema than this version reads; "
                "run `clomo-sync db upgrade` before a dry run"
            )
    except OperationalError as exc:
        raise StopRun(f"cannot open the store at {engine.url!r}: {exc.orig}") from None
    return engine


def _existing_store(url: str) -> Engine | None:
    """A read-only engine over the configured store, or None when it does not exist."""
    try:
        engine = create_engine(url, pool_pre_ping=True, future=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StopRun(f"database.url is not a usable database URL: {exc}") from None
    if engine.dialect.name != "sqlite":
        event.listen(engine, "connect", _read_only_session)
        return engine
    database = engine.url.database
    engine.dispose()
    if not database or database == ":memory:" or not Path(database).is_file():
        return None
    # mode=ro: SQLite itself refuses every write on this connection
    reader = create_engine(
        f"sqlite:///file:{Path(database).resolve()}?mode=ro&uri=true", future=True
    )
    event.listen(reader, "connect", _sqlite_reader)
    event.listen(reader, "begin", _sqlite_begin)  # one snapshot for the whole read
    return reader


def _sqlite_reader(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (_sqlite_begin)
    dbapi_connection.execute("PRAGMA busy_timeout=30000")


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    dbapi_connection.commit()


def _empty_store() -> Engine:
    from sqlalchemy.pool import StaticPool

    from sync.store.schema import metadata

    engine = create_engine("sqlite://", poolclass=StaticPool, future=True)
    metadata.create_all(engine)
    return engine


def open_store(url: str) -> Engine:
    """The engine, with the schema brought up to date on first use."""
    engine = make_engine(url)
    try:
        if not schema_is_current(engine):
            upgrade(engine)
    except OperationalError as exc:
        raise StopRun(f"cannot open the store at {engine.url!r}: {exc.orig}") from None
    return engine
