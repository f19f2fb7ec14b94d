"""The audit read outward (SPEC §19): the export, oldest first, and the stream's next events
with what it needs to tell a gap that will fill from one that never will (docs/audit.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, select, text

from sync.store.schema import account_events
from sync.timeutil import as_utc

EXPORT_BATCH = 2000  # rows fetched at a time: 100,000 events never sit in memory at once


@dataclass(frozen=True, slots=True)
class Pending:
    """Events after the cursor, in id order, and the transactions (PostgreSQL) in progress when
    they were read: an id missing below a read one may belong to one of them."""

    events: list[dict[str, Any]]
    running: frozenset[str]
    concurrent: bool  # False on SQLite: one writer at a time, a missing id never comes later


def export_events(
    engine: Engine, tenant_id: str, since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    """The tenant's events with `since <= at < until`, in id order, fetched in batches (a
    server-side cursor on PostgreSQL)."""
    e = account_events.c
    query = select(account_events).where(e.tenant_id == tenant_id).order_by(e.id)
    if since is not None:
        query = query.where(e.at >= since)
    if until is not None:
        query = query.where(e.at < until)
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=EXPORT_BATCH).execute(query)
        for row in result:
            yield outward(row._mapping)


def pending(engine: Engine, after_id: int, limit: int) -> Pending:
    """Up to `limit` events with ids above `after_id`. On PostgreSQL the read and the list of
    transactions in progress come from one REPEATABLE READ snapshot: a transaction holding a
    missing id had either committed before it (its row would be there), or rolled back, or is
    in that list."""
    e = account_events.c
    query = select(account_events).where(e.id > after_id).order_by(e.id).limit(limit)
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            return Pending([outward(r._mapping) for r in conn.execute(query)], frozenset(), False)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        events = [outward(r._mapping) for r in conn.execute(query)]
        running = running_transactions(conn)
        conn.rollback()
    return Pending(events, running, True)


def running_transactions(conn: Connection) -> frozenset[str]:
    """The transactions in progress in this connection's snapshot (in a REPEATABLE READ
    transaction, that of its first statement: the read's), by their 64-bit ids; empty on SQLite.
    The snapshot's list, not pg_stat_activity's: that one hides other roles' transactions from a
    role without pg_read_all_stats, and a worker may log in as a role of its own."""
    if conn.dialect.name != "postgresql":
        return frozenset()
    rows = conn.execute(text("SELECT pg_snapshot_xip(pg_current_snapshot())::text"))
    return frozenset(str(row[0]) for row in rows)


def still_running(engine: Engine) -> frozenset[str]:
    """`running_transactions` now, in a transaction of its own (read before the next `pending`,
    so that whatever ended here is committed or rolled back for that read)."""
    if engine.dialect.name != "postgresql":
        return frozenset()
    with engine.connect() as conn:
        running = running_transactions(conn)
        conn.rollback()
    return running


def outward(row: RowMapping) -> dict[str, Any]:
    """An event as it leaves the store: the export's line and the stream's message."""
    return {
        "id": row["id"],
        "at": as_utc(row["at"]).isoformat(),
        "tenant": row["tenant_id"],
        "actor": row["actor"],
        "action": row["action"],
        "account": row["account_name"],
        "fields": json.loads(row["fields"]),
    }
