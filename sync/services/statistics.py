"""Fresh table statistics whatever autovacuum does (SPEC §15, issue 23): Procrastinate's fetch
query over thousands of `todo` rows of a never-analyzed `procrastinate_jobs` took 0.2–0.5 s a
job, so a tick of 5,000 tenants crawled at under one run a second; one ANALYZE and the same worker
ran thirty a second. Each dispatcher pass (and the scheduler's minute) analyzes the tables whose
rows changed much since their last ANALYZE (the server's counters say which: one catalog query)."""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from sync.store.queue import analyze, stale_tables

log = logging.getLogger(__name__)


def keep_statistics_fresh(engine: Engine) -> list[str]:
    """ANALYZEs the store's stale tables (PostgreSQL only); the tables analyzed."""
    if engine.dialect.name != "postgresql":
        return []
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            tables = stale_tables(conn)
            analyze(conn, tables)
            conn.commit()
    except DBAPIError as failure:  # a lost store or a missing right: the next pass tries again
        log.warning("could not refresh table statistics: %s", " ".join(str(failure.orig).split()))
        return []
    if tables:
        spent = time.monotonic() - started
        log.info("statistics refreshed (%s) in %.2fs", ", ".join(tables), spent)
    return tables
