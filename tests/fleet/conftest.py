"""The fleet tests use the operations tests' fixtures (a temporary PostgreSQL database each), and
workers that each log in as their own PostgreSQL role, so one worker's sessions can be found and
ended (TESTING.md, "fleet faults")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from tests.ops.conftest import any_store, pg_store

__all__ = ["Roles", "any_store", "pg_store", "worker_roles"]


@dataclass
class Roles:
    """An owner role (it owns the database; `db upgrade` runs as it) and worker roles, members of
    it; `admin` is a superuser connection to the same database."""

    owner_url: str
    worker_urls: list[str]
    names: list[str]
    admin: Engine


@pytest.fixture
def worker_roles(pg_store: str) -> Iterator[Roles]:
    """Two worker roles (not superusers: the connection limit binds them) on `pg_store`."""
    suffix = uuid.uuid4().hex[:8]
    owner, workers = f"own_{suffix}", [f"w{n}_{suffix}" for n in (1, 2)]
    url = make_url(pg_store)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
        # a worker fences a dead one by ending its sessions (sync.services.fence)
        conn.execute(text(f'GRANT pg_signal_backend TO "{owner}"'))
        for name in workers:
            conn.execute(text(f'CREATE ROLE "{name}" LOGIN IN ROLE "{owner}"'))
        conn.execute(text(f'ALTER DATABASE "{url.database}" OWNER TO "{owner}"'))
        conn.execute(text(f'ALTER SCHEMA public OWNER TO "{owner}"'))
    as_role = [url.set(username=name).render_as_string(hide_password=False) for name in workers]
    try:
        yield Roles(url.set(username=owner).render_as_string(False), as_role, workers, admin)
    finally:
        with admin.connect() as conn:
            everyone = ", ".join(f'"{name}"' for name in [owner, *workers])
            conn.execute(text(f"REASSIGN OWNED BY {everyone} TO CURRENT_USER"))
            conn.execute(text(f"DROP OWNED BY {everyone}"))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE usename = ANY(:names)"
                ),
                {"names": [owner, *workers]},
            )
        admin.dispose()
        cluster = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with cluster.connect() as conn:
            for name in [*workers, owner]:
                conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        cluster.dispose()
